"""Load a shared LM folder the way a stranger would: transformers only, none of our code.

Run as a script in a fresh interpreter by test_tiny_lm.py; prints the greedy output as JSON.
"""

import json
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

folder = sys.argv[1]
# A folder on disk: local_files_only=True means no Hub lookup can happen (nothing to pin).
tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
model = AutoModelForCausalLM.from_pretrained(
    folder, local_files_only=True, use_safetensors=True
).eval()
sample = json.loads(Path(folder, "sample.json").read_text())
enc = tok(sample["prompt"], return_tensors="pt")
out = model.generate(**enc)  # decoding settings come from generation_config.json
print(
    json.dumps(
        {
            "output_ids": out[0].tolist(),
            "text": tok.decode(out[0], skip_special_tokens=True),
            "imported_our_package": any(m.startswith("model_sharing") for m in sys.modules),
            "model_class": type(model).__name__,
        }
    )
)
