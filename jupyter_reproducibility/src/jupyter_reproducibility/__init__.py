"""Jupyter reproducibility: the hidden-state trap, how to detect it, and how to avoid it."""
