"""Training: the supervised loop, optimizers and schedules, checkpoints, diagnosis."""
