"""Keep-best: direction, ties broken by the loss, and best weights restored only when their hash matches."""
import torch

from dlbench.run.rundir import RunDir
from dlbench.training.keep_best import KeepBest, better


def test_better_respects_direction_and_nan():
    assert better(0.9, 0.8, "max", 0.0) and not better(0.7, 0.8, "max", 0.0)
    assert better(0.1, 0.2, "min", 0.0) and not better(0.3, 0.2, "min", 0.0)
    assert better(0.5, None, "max", 0.0) and not better(float("nan"), None, "max", 0.0)


def test_ties_keep_the_later_step_with_the_lower_loss(tmp_path):
    run, model, state = RunDir(tmp_path), torch.nn.Linear(2, 2), {}
    k = KeepBest(run, "val.accuracy", "max", tie_metric="val.loss")
    assert k.offer(state, 50, {"val.accuracy": 1.0, "val.loss": 0.163}, model)
    assert k.offer(state, 600, {"val.accuracy": 1.0, "val.loss": 0.0004}, model)  # same accuracy, lower loss
    assert not k.offer(state, 650, {"val.accuracy": 1.0, "val.loss": 0.01}, model)
    assert state["best_step"] == 600


def test_a_corrupt_best_file_is_never_restored(tmp_path):
    run, model, state = RunDir(tmp_path), torch.nn.Linear(2, 2), {"step": 5}
    k = KeepBest(run, "val.loss", "min")
    k.offer(state, 5, {"val.loss": 0.5}, model)
    good = KeepBest(run, "val.loss", "min")
    good.restore(dict(state))
    assert good.weights is not None
    (tmp_path / "checkpoints" / "best.safetensors").write_bytes(b"garbage")
    bad, s2 = KeepBest(run, "val.loss", "min"), dict(state)
    bad.restore(s2)
    assert bad.weights is None and s2["best_step"] is None and s2["best"] is None  # the search starts again
