"""Modular training: one digit classifier written four ways, from a monolithic script to Lightning + MLflow."""
