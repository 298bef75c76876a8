"""Tiny studies for the tune tests: a config that trains in well under a second, and a small space."""
from __future__ import annotations

from pathlib import Path

import yaml

BASE = {"data": {"kind": "mnist1d", "num_samples": 500},
        "model": {"name": "cnn", "stages": [{"channels": 8, "kernel": 3, "stride": 2}]},
        "optim": {"lr": 3e-3},
        "train": {"steps": 60, "batch_size": 32, "eval_every": 20, "log_every": 20, "checkpoint_every": 1000,
                  "eval_train_samples": 0, "threads": 1}}

SPACE = {"sampler": {"name": "random", "seed": 0},
         "pruner": {"name": "median", "n_startup_trials": 1},
         "params": {"optim.name": {"type": "categorical", "choices": ["adamw", "sgd"]},
                    "optim.lr": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
                    "optim.momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optim.name": "sgd"}}}}

# The designed pruning case: one learning rate cannot learn anything in 60 steps; the other parameter
# does not change training, so the good trials all equal the median (never below it) and are not pruned.
HOPELESS = {**SPACE, "params": {"optim.lr": {"type": "categorical", "choices": [1e-7, 2e-2]},
                                "train.log_every": {"type": "int", "low": 10, "high": 20, "step": 10}}}


def write(tmp: Path, space: dict = SPACE, base: dict = BASE) -> tuple[str, str]:
    cfg, sp = tmp / "tiny.yaml", tmp / f"space-{abs(hash(yaml.safe_dump(space))) % 10**6}.yaml"
    cfg.write_text(yaml.safe_dump(base))
    sp.write_text(yaml.safe_dump(space, sort_keys=False))
    return str(cfg), str(sp)
