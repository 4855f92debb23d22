"""Overfitting & overreproducing: measured demonstrations that reproducible is not yet right.

One module per experiment, each a command that prints a table and writes outputs/<experiment>/:
`leakage`, `reusable_holdout`, `seed_lottery`, `nested_cv`, `replicability`; `run_all` runs them
in turn. `common` holds the shared command line and writers, `receipt` the run.json receipt.
"""
