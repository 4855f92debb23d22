"""Environment reproducibility: record, lock, export, containerise and compare environments."""
