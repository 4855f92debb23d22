"""A tiny ML project used as the example environment: logistic regression on scikit-learn's digits."""
