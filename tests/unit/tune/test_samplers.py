"""Every sampler and pruner name builds Optuna's own object and drives a study (no training here)."""
import optuna
import pytest

from dlbench.schema import parse_config
from dlbench.tune.space import parse_space, suggest
from dlbench.tune.study import make_pruner, make_sampler, quiet_optuna
from tests.unit.tune.tiny import BASE

SPACE = {"params": {"optim.name": {"type": "categorical", "choices": ["adamw", "sgd"]},
                    "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True, "grid": [1e-3, 1e-2]},
                    "optim.momentum": {"type": "float", "low": 0.5, "high": 0.9, "step": 0.2, "when": {"optim.name": "sgd"}}}}


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes"])
@pytest.mark.parametrize("pruner", ["median", "asha", "hyperband", "none"])
def test_samplers_and_pruners_drive_a_study(sampler, pruner):
    quiet_optuna()
    space = parse_space({**SPACE, "sampler": {"name": sampler, "seed": 1, "n_startup_trials": 2} if sampler in
                         ("tpe", "cmaes") else {"name": sampler, "seed": 1}, "pruner": {"name": pruner}}, BASE)
    cfg = parse_config(BASE)
    kind = {"median": optuna.pruners.MedianPruner, "asha": optuna.pruners.SuccessiveHalvingPruner,
            "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}[pruner]
    study = optuna.create_study(direction="minimize", sampler=make_sampler(space.sampler, space, 1),
                                pruner=make_pruner(space.pruner, cfg))
    assert isinstance(study.pruner, kind)

    def objective(trial):
        v = suggest(space, trial)
        loss = abs(v["optim.lr"] - 1e-2) + (v.get("optim.momentum", 0.5) - 0.5)
        for step in range(20, 61, 20):  # the training steps at which the tiny config evaluates
            trial.report(loss * 60 / step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study.optimize(objective, n_trials=6)
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) >= (5 if sampler == "grid" else 6)  # the grid has 2 x 2 (+ momentum for sgd) points
    assert all(("optim.momentum" in t.params) == (t.params["optim.name"] == "sgd") for t in done)
