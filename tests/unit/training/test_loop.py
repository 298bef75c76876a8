"""The supervised loop (`training.loop.fit`) at unit level: early stopping, keep-best restore (both directions and
ties), divergence, the metric direction of every task and family, the recipe's step, and bit-identical resume.

Data and models are tiny and built here; where the test needs to decide which evaluation is best, the task's
`evaluate` is scripted (it returns given values and snapshots the weights it was shown), so the expected best
step is known and its weights can be compared exactly.
"""
from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES, get_recipe
from dlbench.run.rundir import RunDir
from dlbench.schema import parse_config
from dlbench.tasks import TASKS
from dlbench.tasks.supervised import ClassificationTask, RegressionTask
from dlbench.training.loop import Diverged, Interrupted, fit, total_steps
from dlbench.training.step import TrainStep, supervised_step
from dlbench.training.supervised import selection

CPU = torch.device("cpu")


# --- helpers ----------------------------------------------------------------------------------------

def config(optim: dict | None = None, **train):
    """A validated config; only its train and optim sections matter to `fit` (the data is built below)."""
    t = {"steps": 20, "batch_size": 16, "eval_every": 5, "log_every": 5, "checkpoint_every": 100,
         "eval_train_samples": 0, "num_workers": 0, "device": "cpu"}
    t.update(train)
    return parse_config({"data": {"kind": "diabetes"}, "model": {"name": "mlp", "hidden": [8]},
                         "optim": {"lr": 1e-2, **(optim or {})}, "train": t})


def bundle(task: str = "classification", n_train: int = 96, n_val: int = 48, features: int = 4) -> DataBundle:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_val, features, generator=g)
    if task == "classification":
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
        spec = DataSpec("classification", (features,), num_classes=3, class_names=["a", "b", "c"])
    else:
        y = x @ torch.arange(1.0, features + 1) + 0.1 * torch.randn(len(x), generator=g)
        spec = DataSpec("regression", (features,))
    train, val = Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:])
    return DataBundle(train, val, SealedSplit(val), spec, {"kind": "array"})


def model(out: int = 3, features: int = 4, seed: int = 0, dropout: float = 0.0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(features, 16), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                               torch.nn.Linear(16, out))


def weights(m: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Scripted:
    """A classification task whose evaluations return scripted metrics and remember the weights they saw."""

    def __init__(self, spec, accuracy=None, loss=None):
        self.inner = ClassificationTask(spec)
        self.accuracy, self.loss_values = accuracy, loss
        self.seen: list[dict] = []

    def loss(self, m, x, y):
        return self.inner.loss(m, x, y)

    def evaluate(self, m, split, batch_size, device, detailed=False, num_workers=0, autocast=None):
        i = len(self.seen)
        self.seen.append(weights(m))
        out = {}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy[i]
        out["loss"] = self.loss_values[i] if self.loss_values is not None else 1.0
        return out


def run_fit(tmp_path, cfg, task, data, m, sel=("val.accuracy", "max"), **kw):
    run = RunDir(tmp_path / "run")
    run.path.mkdir(parents=True, exist_ok=True)
    steps = total_steps(cfg.train, len(data.train), cfg.train.batch_size)
    step_fn = kw.pop("step_fn", None) or supervised_step(cfg, m, task, CPU, steps)
    return fit(cfg, m, task, data, run, CPU, step_fn, selection=sel, **kw), run


# --- early stopping ---------------------------------------------------------------------------------

def test_early_stopping_stops_after_patience_evaluations_without_improvement(tmp_path):
    data = bundle()
    # eval at steps 5, 10, 15, 20: best at 10, then two evaluations without improvement -> stop at 20 of 50
    task = Scripted(data.spec, accuracy=[0.5, 0.7, 0.7, 0.6, 0.99, 0.99], loss=[1.0, 0.8, 0.9, 0.9, 0.1, 0.1])
    cfg = config(steps=50, early_stopping={"metric": "val.accuracy", "patience": 2})
    res, run = run_fit(tmp_path, cfg, task, data, model())
    assert res.stopped_early and res.steps == 20 and res.steps < cfg.train.steps
    assert [e["step"] for e in res.evals] == [5, 10, 15, 20] and len(task.seen) == 4
    assert res.best == {"step": 10, "metric": "val.accuracy", "value": 0.7}
    assert (run.checkpoints / "step-20.json").is_file(), "the step it stopped at is checkpointed"
    assert max(r["step"] for r in run.read_metrics()) == 20


def test_min_delta_counts_small_improvements_as_none(tmp_path):
    data = bundle()
    task = Scripted(data.spec, accuracy=[0.50, 0.52, 0.54, 0.56, 0.58, 0.60], loss=[1.0] * 6)
    cfg = config(steps=30, early_stopping={"metric": "val.accuracy", "patience": 2, "min_delta": 0.05})
    res, _ = run_fit(tmp_path, cfg, task, data, model())
    assert res.stopped_early and res.steps == 15 and res.best["step"] == 5


def test_without_early_stopping_every_step_runs(tmp_path):
    data = bundle()
    task = Scripted(data.spec, accuracy=[0.9, 0.1, 0.1, 0.1], loss=[1.0] * 4)
    res, _ = run_fit(tmp_path, config(steps=20), task, data, model())
    assert not res.stopped_early and res.steps == 20 and len(res.evals) == 4


def test_patience_counts_from_the_last_improvement(tmp_path):
    data = bundle()
    task = Scripted(data.spec, accuracy=[0.5, 0.4, 0.6, 0.5, 0.5, 0.9], loss=[1.0] * 6)
    cfg = config(steps=30, early_stopping={"metric": "val.accuracy", "patience": 2})
    res, _ = run_fit(tmp_path, cfg, task, data, model())
    assert res.steps == 25 and res.stopped_early and res.best["step"] == 15


# --- keep-best ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric,mode,accuracy,loss,best_i", [
    ("val.accuracy", "max", [0.3, 0.8, 0.6, 0.7], [0.5, 0.4, 0.3, 0.2], 1),
    ("val.loss", "min", None, [1.0, 0.9, 0.4, 0.6], 2),
])
def test_keep_best_restores_the_weights_of_the_best_evaluation(tmp_path, metric, mode, accuracy, loss, best_i):
    data = bundle()
    task = Scripted(data.spec, accuracy=accuracy, loss=loss)
    m = model()
    res, run = run_fit(tmp_path, config(steps=20), task, data, m, sel=(metric, mode))
    values = accuracy if metric == "val.accuracy" else loss
    assert res.best == {"step": 5 * (best_i + 1), "metric": metric, "value": values[best_i]}
    assert same(weights(m), task.seen[best_i]), "the model ends with the weights it had at the best evaluation"
    assert not same(task.seen[best_i], task.seen[-1]), "training moved the weights after the best step"
    from safetensors.torch import load_file

    assert same(load_file(str(run.checkpoints / "best.safetensors")), task.seen[best_i])


def test_keep_best_off_ends_with_the_last_weights_but_still_names_the_best(tmp_path):
    data = bundle()
    task = Scripted(data.spec, accuracy=[0.3, 0.8, 0.6, 0.7], loss=[1.0] * 4)
    m = model()
    res, run = run_fit(tmp_path, config(steps=20, keep_best=False), task, data, m)
    assert same(weights(m), task.seen[-1])
    assert res.best == {"step": 10, "metric": "val.accuracy", "value": 0.8}
    assert not (run.checkpoints / "best.safetensors").exists()


def test_keep_best_with_a_real_task_matches_a_fresh_evaluation_of_the_kept_weights(tmp_path):
    data = bundle()
    task, m = ClassificationTask(data.spec), model()
    res, _ = run_fit(tmp_path, config(steps=24, eval_every=2, log_every=4, optim={"lr": 0.05}), task, data, m)
    accs = [e["val.accuracy"] for e in res.evals]
    assert res.best["value"] == max(accs)
    best = next(e for e in res.evals if e["step"] == res.best["step"])
    assert best["val.accuracy"] == max(accs)
    again = task.evaluate(m, data.val, 256, CPU)
    assert again["accuracy"] == best["val.accuracy"] and again["loss"] == pytest.approx(best["val.loss"], abs=1e-6)


def test_ties_keep_the_later_step_with_the_lower_loss(tmp_path):
    data = bundle()
    # equal accuracy: the lower val.loss wins (step 10); an equal loss does not replace it (step 20)
    task = Scripted(data.spec, accuracy=[1.0, 1.0, 1.0, 1.0], loss=[0.2, 0.05, 0.1, 0.05])
    m = model()
    res, _ = run_fit(tmp_path, config(steps=20), task, data, m)
    assert res.best == {"step": 10, "metric": "val.accuracy", "value": 1.0}
    assert same(weights(m), task.seen[1])


def test_ties_on_the_loss_itself_keep_the_earlier_step(tmp_path):
    data = bundle()
    task = Scripted(data.spec, loss=[0.5, 0.2, 0.2, 0.3])
    res, _ = run_fit(tmp_path, config(steps=20), task, data, model(), sel=("val.loss", "min"))
    assert res.best["step"] == 10


def test_a_selection_metric_the_task_does_not_log_names_those_it_does(tmp_path):
    data = bundle()
    task = Scripted(data.spec, accuracy=[0.5] * 4, loss=[1.0] * 4)
    with pytest.raises(UserError) as e:
        run_fit(tmp_path, config(steps=20), task, data, model(), sel=("val.bleu", "max"))
    assert "val.bleu" in e.value.line() and "val.accuracy" in e.value.line() and "val.loss" in e.value.line()


# --- divergence ---------------------------------------------------------------------------------------

class InfModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x) * float("inf")


def test_a_model_that_outputs_inf_raises_diverged_naming_the_step_and_the_fix(tmp_path):
    data = bundle()
    with pytest.raises(Diverged) as e:
        run_fit(tmp_path, config(steps=20, log_every=5), ClassificationTask(data.spec), data, InfModel())
    msg = str(e.value)
    assert "at step 5" in msg and ("nan" in msg or "inf" in msg)
    assert "optim.lr" in msg and "optim.grad_clip" in msg


def test_a_huge_learning_rate_raises_diverged(tmp_path):
    data = bundle("regression")
    cfg = config(steps=40, log_every=1, eval_every=40, optim={"name": "sgd", "lr": 1e6, "momentum": 0.0})
    with pytest.raises(Diverged, match=r"training loss became (nan|inf|-inf) at step \d+; lower optim\.lr"):
        run_fit(tmp_path, cfg, RegressionTask(data.spec), data, model(out=1), sel=("val.loss", "min"))


# --- metric direction: every task, every family ----------------------------------------------------------

FAMILY_TASKS = [(f, t) for f, r in RECIPES.items() for t in r.tasks]


def test_every_task_declares_its_metrics_and_a_selection_metric_among_them():
    for name, cls in TASKS.items():
        assert cls.name == name
        assert cls.metrics and set(cls.metrics.values()) <= {"min", "max"}, name
        assert cls.metric.startswith("val.") and cls.metric[4:] in cls.metrics, name
        assert cls.metrics.get("loss") == "min", f"{name}: the loss is minimised"


def test_every_task_is_taken_by_some_family():
    taken = {t for r in RECIPES.values() for t in r.tasks}
    assert set(TASKS) <= taken, f"no family takes {set(TASKS) - taken}"


@pytest.mark.parametrize("family,task", FAMILY_TASKS, ids=[f"{f}-{t}" for f, t in FAMILY_TASKS])
def test_direction_of_every_metric_is_the_declared_one(family, task):
    recipe = get_recipe(family)
    table = recipe.metrics(task)
    if family != "gan":  # the supervised families take the task's table as is
        assert table == TASKS[task].metrics
    assert table and set(table.values()) <= {"min", "max"}
    for m, d in table.items():
        assert recipe.direction(f"val.{m}", task) == d, m
        assert recipe.direction(f"train.{m}", task) == d, m
        assert recipe.direction(m, task) == d, m
        assert recipe.direction(f"val.{m}") == d, f"{m} without a task"
    sel = recipe.selection_metric(task)
    assert sel.startswith("val.") and sel[4:] in table


@pytest.mark.parametrize("family", list(RECIPES))
def test_a_metric_has_one_direction_across_the_tasks_a_family_takes(family):
    recipe, seen = get_recipe(family), {}
    for task in recipe.tasks:
        for m, d in recipe.metrics(task).items():
            assert seen.setdefault(m, d) == d, f"{family}: {m} is {seen[m]} in one task and {d} in {task}"


@pytest.mark.parametrize("family,task", FAMILY_TASKS, ids=[f"{f}-{t}" for f, t in FAMILY_TASKS])
def test_an_unknown_metric_names_the_valid_ones(family, task):
    recipe = get_recipe(family)
    for kw in ({"task": task}, {}):
        with pytest.raises(UserError) as e:
            recipe.direction("val.nonsense", **kw)
        line = e.value.line()
        assert "val.nonsense" in line and family in line and "\n" not in line
        tables = [recipe.metrics(task)] if kw else [recipe.metrics(t) for t in recipe.tasks]
        for table in tables:
            for m in table:
                assert f"val.{m}" in line, m


@pytest.mark.parametrize("family,task", [c for c in FAMILY_TASKS if c[0] != "gan"],
                         ids=[f"{f}-{t}" for f, t in FAMILY_TASKS if f != "gan"])
def test_early_stopping_mode_auto_picks_the_declared_direction(family, task):
    recipe = get_recipe(family)
    for m, d in recipe.metrics(task).items():
        cfg = config(early_stopping={"metric": f"val.{m}", "mode": "auto"})
        assert selection(recipe, cfg, task) == (f"val.{m}", d)
        recipe.check_config(cfg)  # a metric the family logs passes the config check
        other = "min" if d == "max" else "max"
        assert selection(recipe, config(early_stopping={"metric": f"val.{m}", "mode": other}), task) == (f"val.{m}", other)
    metric = recipe.selection_metric(task)
    assert selection(recipe, config(), task) == (metric, recipe.direction(metric, task))
    with pytest.raises(UserError, match="val.nonsense"):
        recipe.check_config(config(early_stopping={"metric": "val.nonsense"}))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_gan_selects_by_a_minimised_distance_and_refuses_early_stopping(task):
    gan = get_recipe("gan")
    metric, mode = selection(gan, config(), task)
    assert metric.endswith("_fd") and mode == "min" and gan.direction(metric, task) == "min"
    cfg = parse_config({"data": {"kind": "digits"}, "model": {"name": "gan"},
                        "train": {"early_stopping": {"metric": metric}}})
    with pytest.raises(UserError, match="early_stopping"):
        gan.check_config(cfg)


def test_the_declared_tables_are_what_evaluate_logs():
    """The numbers a task's `evaluate` returns are exactly the metrics its table gives a direction."""
    for task_name, data in (("classification", bundle()), ("regression", bundle("regression"))):
        task = TASKS[task_name](data.spec)
        out = task.evaluate(model(out=3 if task_name == "classification" else 1), data.val, 64, CPU)
        numeric = {k for k, v in out.items() if isinstance(v, (int, float))}
        assert numeric == set(task.metrics), task_name
    # seq2seq: its table against its own evaluate (a tiny untrained transformer on the numbers data)
    from dlbench.data import build_data
    from dlbench.recipes.registry import build_model

    cfg = parse_config({"data": {"kind": "numbers", "train_size": 40, "val_size": 8, "test_size": 8,
                                 "tokenizer": {"type": "word"}},
                        "model": {"name": "transformer", "d_model": 8, "heads": 2, "encoder_layers": 1,
                                  "decoder_layers": 1, "decode": {"bleu_samples": 4}}})
    data = build_data(cfg.data)
    task = get_recipe("transformer").build_task(cfg, data.spec)
    torch.manual_seed(0)
    out = task.evaluate(build_model(cfg.model, data.spec), data.val, 64, CPU)
    numeric = {k for k, v in out.items() if isinstance(v, (int, float))}
    assert numeric == set(TASKS["seq2seq"].metrics)


# --- the step the loop runs -----------------------------------------------------------------------------

def test_the_loop_runs_the_recipes_train_step(tmp_path, monkeypatch):
    import dlbench

    recipe = get_recipe("mlp")
    calls = {"built": 0, "run": 0}
    real = recipe.train_step

    def counting(cfg, m, task, device, steps):
        calls["built"] += 1
        inner = real(cfg, m, task, device, steps)

        def run(batches, loss_weight=1.0):
            calls["run"] += 1
            return inner.run(batches, loss_weight)

        return TrainStep(run, inner.optimizer, inner.scheduler, inner.batches_per_step)

    monkeypatch.setattr(recipe, "train_step", counting)
    cfg = {"data": {"kind": "diabetes"}, "model": {"name": "mlp", "hidden": [8]},
           "train": {"steps": 6, "batch_size": 16, "eval_every": 2, "log_every": 2, "eval_train_samples": 0,
                     "threads": 1, "early_stopping": {"metric": "val.r2", "patience": 10}}}
    res = dlbench.train(cfg, run_dir=tmp_path / "r")
    assert calls == {"built": 1, "run": 6}
    # mode auto maximises r2: the best is the highest r2 logged
    evals = [r for r in res.run_dir.joinpath("metrics.jsonl").read_text().splitlines() if '"eval"' in r]
    r2 = [json.loads(r)["val.r2"] for r in evals]
    assert res.result["best"]["metric"] == "val.r2" and res.result["best"]["value"] == max(r2)


def _recording_clip(monkeypatch):
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def clip(params, max_norm, *a, **k):
        params = list(params)
        out = real(params, max_norm, *a, **k)
        seen.append((max_norm, torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])).item()))
        return out

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    return seen


@pytest.mark.parametrize("grad_clip", [None, 0.01])
def test_supervised_step_clips_gradients_when_asked(tmp_path, monkeypatch, grad_clip):
    seen = _recording_clip(monkeypatch)
    data = bundle()
    cfg = config(steps=6, eval_every=6, log_every=3, optim={"grad_clip": grad_clip} if grad_clip else {})
    run_fit(tmp_path, cfg, ClassificationTask(data.spec), data, model())
    if grad_clip is None:
        assert seen == []
    else:
        assert len(seen) == 6 and all(m == grad_clip and n <= grad_clip * (1 + 1e-4) for m, n in seen)


class AutocastProbe(ClassificationTask):
    def __init__(self, spec):
        super().__init__(spec)
        self.train_autocast, self.eval_autocast = [], []

    def loss(self, m, x, y):
        self.train_autocast.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return super().loss(m, x, y)

    def evaluate(self, m, split, batch_size, device, detailed=False, num_workers=0, autocast=None):
        self.eval_autocast.append(autocast is not None)
        return super().evaluate(m, split, batch_size, device, detailed, num_workers, autocast)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_reaches_the_step_and_the_evaluation(tmp_path, precision):
    data = bundle()
    task = AutocastProbe(data.spec)
    m = model()
    run_fit(tmp_path, config(steps=4, eval_every=2, log_every=2, precision=precision), task, data, m)
    bf16 = precision == "bf16"
    assert len(task.train_autocast) == 4
    assert all(on == bf16 and (dt == torch.bfloat16 or not bf16) for on, dt in task.train_autocast)
    assert task.eval_autocast == [bf16, bf16]
    assert all(p.dtype == torch.float32 for p in m.parameters()), "weights stay fp32 under bf16"


def test_lr_scaling_is_applied_by_the_step():
    data = bundle()
    cfg = config(batch_size=32, lr_scaling="linear", reference_batch_size=8, optim={"lr": 0.01})
    step = supervised_step(cfg, model(), ClassificationTask(data.spec), CPU, 20)
    assert all(g["lr"] == pytest.approx(0.04) for g in step.optimizer.param_groups)


# --- resume ------------------------------------------------------------------------------------------------

def _interrupting(step_fn: TrainStep, at: int) -> TrainStep:
    """A step that sends this process SIGTERM during its `at`-th call: the loop finishes that step,
    checkpoints it and raises Interrupted."""
    n = {"calls": 0}

    def run(batches, loss_weight=1.0):
        n["calls"] += 1
        if n["calls"] == at:
            os.kill(os.getpid(), signal.SIGTERM)
        return step_fn.run(batches, loss_weight)

    return TrainStep(run, step_fn.optimizer, step_fn.scheduler, step_fn.batches_per_step)


def _evals(run: RunDir) -> list[dict]:
    return [r for r in run.read_metrics() if r["kind"] == "eval"]


def _interrupt_and_resume(tmp_path, stop_at):
    """(uninterrupted result, its run, resumed result, its run, resumed model, uninterrupted model)."""
    data = bundle()
    cfg = config(steps=20, eval_every=5, log_every=5, checkpoint_every=5, batch_size=16,
                 optim={"schedule": "cosine", "warmup_steps": 3, "weight_decay": 0.1})

    def fresh(seed):
        return model(dropout=0.3, seed=seed)  # dropout: the RNG state must be restored too

    m_full = fresh(0)
    full, run_full = run_fit(tmp_path / "full", cfg, ClassificationTask(data.spec), data, m_full)

    m1 = fresh(0)
    task = ClassificationTask(data.spec)
    step_fn = _interrupting(supervised_step(cfg, m1, task, CPU, 20), stop_at)
    with pytest.raises(Interrupted, match=f"step {stop_at}"):
        run_fit(tmp_path / "part", cfg, task, data, m1, step_fn=step_fn)
    assert (tmp_path / "part" / "run" / "checkpoints" / f"step-{stop_at}.json").is_file()

    torch.manual_seed(123)  # a different global RNG state and initial weights: the checkpoint must restore both
    m2 = fresh(1)
    torch.rand(7)
    resumed, run_part = run_fit(tmp_path / "part", cfg, ClassificationTask(data.spec), data, m2, resume=True)
    return full, run_full, resumed, run_part, m2, m_full


def _train_losses(run: RunDir) -> list[tuple[int, float]]:
    return [(r["step"], r["train.loss"]) for r in run.read_metrics() if r["kind"] == "train"]


@pytest.fixture
def sigterm_guard():
    """Outside `fit`, a SIGTERM this test sends fails the test instead of killing pytest."""
    def refuse(signum, frame):
        raise AssertionError("SIGTERM arrived outside the loop's stop_signals handler")

    old = signal.signal(signal.SIGTERM, refuse)
    yield
    signal.signal(signal.SIGTERM, old)


@pytest.mark.usefixtures("sigterm_guard")
@pytest.mark.parametrize("stop_at", [7, 10])  # between log boundaries, and exactly on an evaluation
def test_resume_from_a_checkpoint_continues_bit_identically(tmp_path, stop_at):
    full, run_full, resumed, run_part, m2, m_full = _interrupt_and_resume(tmp_path, stop_at)
    assert same(weights(m2), weights(m_full)), "weights differ after resume"
    assert resumed.steps == full.steps == 20 and resumed.best == full.best and not resumed.stopped_early
    assert _evals(run_part) == _evals(run_full), "metrics.jsonl evaluations differ after resume"
    assert resumed.evals == full.evals
    assert [s for s, _ in _train_losses(run_part)] == [s for s, _ in _train_losses(run_full)]
    # the logged training loss is identical at every log boundary after the first one past the resume point
    first_log_after = stop_at + 5 - stop_at % 5
    assert [r for r in _train_losses(run_part) if r[0] > first_log_after] == \
        [r for r in _train_losses(run_full) if r[0] > first_log_after]


@pytest.mark.usefixtures("sigterm_guard")
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="loop.fit does not checkpoint the loss window (loss_sum/loss_count): resumed "
                                       "between log boundaries, the first train.loss logged averages only the steps "
                                       "since the resume, not the whole log_every window")
def test_resume_between_log_boundaries_logs_the_same_training_loss(tmp_path):
    _, run_full, _, run_part, *_ = _interrupt_and_resume(tmp_path, 7)
    assert _train_losses(run_part) == _train_losses(run_full)
