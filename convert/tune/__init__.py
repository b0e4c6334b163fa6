"""Hyperparameter search under a latency budget: `pisight tune` (Optuna studies)."""
