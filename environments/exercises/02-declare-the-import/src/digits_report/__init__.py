"""digits-report: cross-validated accuracy of a small classifier, with its standard error."""
