"""Scaling from one device to many, measured and reproducible."""
