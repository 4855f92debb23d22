"""Modular training: one digit classifier written four ways, from a monolithic script to Lightning + MLflow."""

import os

# LightningCLI still calls jsonargparse APIs that jsonargparse now marks deprecated; those
# warnings are for Lightning's developers, not for someone training a model. Set before import.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
