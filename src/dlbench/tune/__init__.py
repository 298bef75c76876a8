"""Hyperparameter search with Optuna over a declarative search space (see space.py and study.py)."""
