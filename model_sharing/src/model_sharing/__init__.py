"""Share a model others can load safely and understand.

Modules, in teaching order: `pickle_demo` (why pickle checkpoints are code), `safetensors_tools`
(what replaces them), `classifier` (weights + structure with PyTorchModelHubMixin), `hf_native`
(transformers Auto classes), `tiny_lm` (model + tokenizer + generation config in one folder),
`card` (model card from the Hub's template and run.json), `push` (the Hub), `onnx_export` (a
second portable format), `pinning` and `reuse` (loading someone else's model: read its config
and card, check the sha256, pin the commit).
"""
