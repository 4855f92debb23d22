"""Load a transformers-native repo whose structure ships as code, with transformers only.

Run by test_hf_native.py in a fresh interpreter (HF_HUB_OFFLINE=1, the repo in a local Hub
cache): refuses without trust_remote_code, loads with it - at a pinned commit, so the Python
that runs is the Python that was read - and writes the logits for a given input batch.
"""

import json
import sys

from safetensors.torch import load_file, save_file
from transformers import AutoModelForImageClassification

cache_dir, repo_id, revision, batch_file, out_file = sys.argv[1:6]
try:
    AutoModelForImageClassification.from_pretrained(  # False: refuse, do not prompt
        repo_id,
        revision=revision,
        cache_dir=cache_dir,
        use_safetensors=True,
        trust_remote_code=False,
    )
    refused = ""
except ValueError as exc:
    refused = str(exc).splitlines()[0]
model = AutoModelForImageClassification.from_pretrained(
    repo_id, revision=revision, cache_dir=cache_dir, use_safetensors=True, trust_remote_code=True
).eval()
logits = model(pixel_values=load_file(batch_file)["x"]).logits.detach()
save_file({"logits": logits.contiguous()}, out_file)
print(
    json.dumps(
        {
            "refused_without_trust": refused,
            "model_class": type(model).__name__,
            "class_module": type(model).__module__,
            "imported_our_package": any(m.startswith("model_sharing") for m in sys.modules),
        }
    )
)
