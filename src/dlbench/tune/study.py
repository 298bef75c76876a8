"""Optuna studies whose trials are ordinary dlbench training runs.

    studies/<study>/study.db         the default storage (SQLite); --storage URL for any RDB, PostgreSQL across machines
                    study.json       how to reopen it (storage URL without password, study name, inputs)
                    trials/NNNN/     one run directory per trial (trained with the test split left sealed)
                    final/ final.json  the selected model, evaluated once on test (see final.py)

A worker repeats: take the study lock, fail trials of dead workers, and if fewer than `trials` trials are
used up, start one (`Study.optimize(n_trials=1)`, so Optuna's own heartbeat, retry and tell machinery run
it); the objective releases the lock as soon as its trial exists. Every worker of a study, local processes
(--n-jobs) or other machines, runs this same loop, so the study ends with exactly `trials` trials.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from dlbench.data.registry import build_data
from dlbench.errors import UserError
from dlbench.recipes.registry import get_recipe
from dlbench.tune import space as sp
from dlbench.tune.storage import StudyLock, local_worker_dead, open_storage, safe_url, worker_identity

log = logging.getLogger(__name__)

# Trials that count against the budget. A FAIL counts only when the training itself failed
# (dlbench.error: e.g. a diverged run); a trial failed because its worker died does not, it is retried.
BUDGET_STATES = ("RUNNING", "WAITING", "COMPLETE", "PRUNED")
IGNORED_FOR_COMPAT = {"name", "train.threads", "train.device", "train.num_workers"}


@dataclass
class TuneSpec:
    """Everything a worker needs, as JSON, so that local worker processes get exactly what the parent has."""

    config: str
    space: str
    trials: int = 20
    study: str | None = None
    studies_dir: str = "studies"
    storage: str | None = None
    overrides: list[str] = field(default_factory=list)
    n_jobs: int = 1
    resume: bool = False
    sampler: str | None = None
    pruner: str | None = None
    seed: int | None = None
    threads: int | None = None
    metric: str | None = None
    """Resolved by the parent (building the data once tells the task's metric)."""

    @property
    def study_dir(self) -> Path:
        return Path(self.studies_dir) / self.study

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.study_dir / 'study.db').resolve()}"


@dataclass
class StudyContext:
    spec: TuneSpec
    space: sp.Space
    base_raw: dict
    """The base config as its YAML gives it (differences from defaults), with -o and the space's overrides."""
    metric: str
    direction: str
    study: object
    storage: object
    lock: StudyLock
    retry: object

    @property
    def budget(self) -> int:
        if self.space.sampler.name == "grid":  # an exhausted grid has nothing new to try
            return min(self.spec.trials, math.prod(len(v) for v in sp.grid(self.space).values()))
        return self.spec.trials

    def trials(self, states=None):
        import optuna

        st = tuple(getattr(optuna.trial.TrialState, s) for s in states) if states else None
        return self.study.get_trials(deepcopy=False, states=st)


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeat, fail_stale_trials, the retry callback and multivariate TPE are marked experimental
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_sampler(s: sp.SamplerSpec, space: sp.Space, seed: int):
    import optuna

    startup = {} if s.n_startup_trials is None else {"n_startup_trials": s.n_startup_trials}
    if s.name == "tpe":
        # multivariate + group: TPE's recommended mode for conditional spaces
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, **startup)
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.name == "grid":
        return optuna.samplers.GridSampler(sp.grid(space), seed=seed)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **startup)


def make_pruner(p: sp.PrunerSpec, cfg):
    """Resources are training steps, so the smallest useful one is the first evaluation."""
    import optuna

    first = cfg.train.eval_every
    if p.name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
    if p.name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource or first,
                                                      reduction_factor=p.reduction_factor or 4)
    if p.name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=p.min_resource or first,
                                              max_resource=p.max_resource or cfg.train.steps or "auto",
                                              reduction_factor=p.reduction_factor or 3)
    return optuna.pruners.NopPruner()


def direction_of(cfg, metric: str) -> str:
    """Optuna's direction for a metric, as the config's family declares it (a GAN's Fréchet distance is minimized)."""
    return "minimize" if get_recipe(cfg.model.name).direction(metric) == "min" else "maximize"


def task_metric(cfg) -> str:
    """The family's selection metric for the data's task (building the data once is the only way to learn the task)."""
    return get_recipe(cfg.model.name).selection_metric(build_data(cfg.data).spec.task)


def load_inputs(spec: TuneSpec):
    """(space, base_raw, resolved base Config), every problem in the space reported at once."""
    from dlbench.config import apply_overrides
    from dlbench.schema import parse_config
    from dlbench.config.load import read_yaml, resolve_config_path

    path = resolve_config_path(spec.config)
    raw = read_yaml(path)
    parse_config(apply_overrides(raw, spec.overrides), source=str(path))
    raw_space, space_path = sp.read_space(spec.space)
    for section, key, value in (("sampler", "name", spec.sampler), ("pruner", "name", spec.pruner),
                                ("sampler", "seed", spec.seed)):
        if value is not None and isinstance(raw_space, dict):  # the command line wins over the file
            raw_space[section] = {**(raw_space.get(section) or {}), key: value}
    space = sp.parse_space(raw_space, apply_overrides(raw, spec.overrides), source=str(space_path))
    # config file, then the space's fixed overrides, then -o: the command line wins
    base_raw = apply_overrides(sp.apply_values(raw, space.overrides), spec.overrides)
    base_raw.setdefault("name", path.stem)
    return space, base_raw, parse_config(base_raw, source=str(path))


def study_meta(space: sp.Space, cfg, base_raw: dict, metric: str) -> dict:
    return {"format": "dlbench-study/1", "metric": metric, "direction": direction_of(cfg, metric),
            "params": space.to_json()["params"], "overrides": space.overrides,
            "base": cfg.model_dump(mode="json"), "base_raw": base_raw}


def _flat(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def check_compatible(name: str, old: dict | None, new: dict) -> None:
    if old is None:
        raise UserError(f"study '{name}' exists but was not created by dlbench tune",
                        "choose another --study name")
    what = [k for k in ("metric", "params", "overrides") if json.dumps(old.get(k), sort_keys=True) !=
            json.dumps(new.get(k), sort_keys=True)]
    a, b = _flat(old.get("base")), _flat(new.get("base"))
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in IGNORED_FOR_COMPAT)
    if what or diff:
        where = ", ".join([{"params": "search space", "overrides": "space overrides"}.get(w, w) for w in what] +
                          [f"config {k}" for k in diff[:4]])
        raise UserError(f"study '{name}' already exists with a different {where}",
                        "use the same config and space to join or resume it, or choose another --study name")


def open_study(spec: TuneSpec, inputs=None) -> StudyContext:
    """Create the study, or join it when it exists with the same config and space."""
    import optuna

    quiet_optuna()
    space, base_raw, cfg = inputs or load_inputs(spec)
    metric = spec.metric or space.metric or task_metric(cfg)
    meta = study_meta(space, cfg, base_raw, metric)
    if spec.storage is None:
        spec.study_dir.mkdir(parents=True, exist_ok=True)
    storage = open_storage(spec.storage_url)
    lock = StudyLock(spec.storage_url, spec.study)
    sampler = make_sampler(space.sampler, space, space.sampler.seed)
    pruner = make_pruner(space.pruner, cfg)
    with lock:  # one creator; the others wait here and then find the study with its metadata
        exists = spec.study in optuna.get_all_study_names(storage)
        if spec.resume and not exists:
            raise UserError(f"no study '{spec.study}' in {safe_url(spec.storage_url)} to resume",
                            "drop --resume to start it")
        if exists:
            study = optuna.load_study(study_name=spec.study, storage=storage, sampler=sampler, pruner=pruner)
            check_compatible(spec.study, study.user_attrs.get("dlbench"), meta)
        else:
            study = optuna.create_study(storage=storage, study_name=spec.study, direction=meta["direction"],
                                        sampler=sampler, pruner=pruner)
            study.set_user_attr("dlbench", meta)
    return StudyContext(spec, space, base_raw, metric, meta["direction"], study, storage, lock,
                        storage.get_heartbeat_stale_trial_callback())


# ---- one trial -----------------------------------------------------------------------------------------

class _Reporter:
    """fit()'s observer: reports every validation metric to Optuna and stops the run once it is pruned."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric, self.pruned_at, self.fatal = trial, metric, None, False

    def run_start(self):
        pass

    def eval_start(self, step):
        pass

    def eval_stop(self, step, metrics) -> bool:
        value = metrics.get(self.metric)
        if value is None:
            self.fatal = True
            raise UserError(f"tuning metric '{self.metric}' is not a metric of this task",
                            f"set metric: to one of {', '.join(k for k in metrics if k.startswith('val.'))}")
        if math.isfinite(value):
            self.trial.report(float(value), step)
        if self.trial.should_prune():
            self.pruned_at = step
            return True
        return False


def trial_overrides(ctx: StudyContext, values: dict) -> dict:
    threads = ctx.spec.threads
    if threads is None and ctx.spec.n_jobs > 1:  # parallel workers share the cores
        threads = max(1, (os.cpu_count() or 1) // ctx.spec.n_jobs)
    extra = {"train.threads": threads} if threads and not ctx.base_raw.get("train", {}).get("threads") else {}
    return {**values, **extra}


class Objective:
    def __init__(self, ctx: StudyContext):
        self.ctx = ctx
        self.interrupted = False
        self.fatal: UserError | None = None
        """A problem every trial would have (the metric is not one of the task's): stop the study."""

    def __call__(self, trial):
        import optuna

        from dlbench.api import train
        from dlbench.training.loop import Interrupted

        trial.set_user_attr("dlbench.worker", worker_identity())  # first: recover_dead_workers reads it
        self.ctx.lock.release()  # the trial exists now: the next worker may start its own
        values = sp.suggest(self.ctx.space, trial)
        run_dir = self.ctx.spec.study_dir / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("dlbench.run_dir", str(run_dir.resolve()))
        trial.set_user_attr("dlbench.values", values)
        raw = {**sp.apply_values(self.ctx.base_raw, trial_overrides(self.ctx, values)),
               "name": f"{self.ctx.spec.study}-trial{trial.number}"}
        reporter = _Reporter(trial, self.ctx.metric)
        try:
            res = train(raw, run_dir=run_dir, quiet=True, observer=reporter, evaluate_test=False)
        except Interrupted:
            self.interrupted = True  # FAIL without dlbench.error: not counted, so --resume runs another
            raise
        except Exception as e:
            trial.set_user_attr("dlbench.error", f"{type(e).__name__}: {e}"[:500])
            if reporter.fatal:
                self.fatal = e
            raise
        # selection reads validation numbers only; the trial's test split was never opened
        val = {k: v for k, v in res.val.items() if isinstance(v, (int, float))}
        trial.set_user_attr("dlbench.val", val)
        trial.set_user_attr("dlbench.steps", res.result["training"]["steps"])
        if reporter.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at step {reporter.pruned_at}")
        return val[self.ctx.metric.removeprefix("val.")]


# ---- the worker loop -----------------------------------------------------------------------------------

def budget_used(ctx: StudyContext, trials) -> int:
    return sum(1 for t in trials if t.state.name in BUDGET_STATES or
               (t.state.name == "FAIL" and "dlbench.error" in t.user_attrs))


def recover_dead_workers(ctx: StudyContext) -> None:
    """Fail (and retry once) RUNNING trials whose worker is gone: at once on this machine, after the
    heartbeat grace period on others (Optuna's fail_stale_trials)."""
    import optuna

    from dlbench.tune.storage import GRACE_SECONDS

    now = datetime.datetime.now()
    for t in ctx.trials(["RUNNING"]):
        # no worker identity a grace period after the start: its worker died between Optuna creating the trial
        # and the objective's first line, before any heartbeat, so fail_stale_trials would never see it
        orphan = "dlbench.worker" not in t.user_attrs and t.datetime_start is not None and \
            (now - t.datetime_start).total_seconds() > GRACE_SECONDS
        if orphan or local_worker_dead(t.user_attrs.get("dlbench.worker", {})):
            try:
                ctx.study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            except (ValueError, RuntimeError):
                continue  # finished meanwhile
            if ctx.retry is not None:
                ctx.retry(ctx.study, ctx.study.get_trials(deepcopy=False)[t.number])
    optuna.storages.fail_stale_trials(ctx.study)


def trial_seed(seed: int, number: int) -> int:
    """The sampler seed for the study's trial `number`: (seed, number) mixed by numpy's SeedSequence, so that
    studies with different seeds draw unrelated trials (seed + number would make seed 1 repeat seed 0's
    draws one trial later)."""
    import numpy as np

    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def work(ctx: StudyContext, on_trial=None, poll: float = 2.0) -> None:
    """Run trials until the study's budget is used up and no other worker is still running one."""
    from dlbench.training.loop import Interrupted

    objective = Objective(ctx)
    while True:
        with ctx.lock:
            recover_dead_workers(ctx)
            trials = ctx.trials()
            # a WAITING trial (a dead worker's, queued for retry) is already in the budget: run it
            start = budget_used(ctx, trials) < ctx.budget or any(t.state.name == "WAITING" for t in trials)
            if start:
                # a seed per trial number: reproducible for one worker, and parallel workers never draw
                # the same random startup trials
                ctx.study.sampler = make_sampler(ctx.space.sampler, ctx.space, trial_seed(ctx.space.sampler.seed, len(trials)))
                ctx.study.optimize(objective, n_trials=1, catch=(Exception,))
        if objective.fatal:
            raise objective.fatal
        if objective.interrupted:
            raise Interrupted("tuning interrupted; continue the study with the same command and --resume")
        if on_trial:
            on_trial(ctx)
        if not start:
            if not ctx.trials(["RUNNING", "WAITING"]):
                return
            time.sleep(poll)  # other workers' trials: wait, so a dead one's can be retried here
        elif not ctx.trials(["COMPLETE", "PRUNED"]):
            # the same error three times and nothing else: every trial would fail (a diverged run's
            # message names its step, so a few diverging learning rates do not stop the study)
            errors = {t.user_attrs["dlbench.error"] for t in ctx.trials(["FAIL"]) if "dlbench.error" in t.user_attrs}
            if len(errors) == 1 and len(ctx.trials(["FAIL"])) >= 3:
                raise UserError(f"the first trials all failed: {errors.pop()}", "fix the config or the search space")
