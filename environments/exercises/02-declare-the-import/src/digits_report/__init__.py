"""digits-report: cross-validated accuracy of a small classifier, with the spread of its fold scores."""
