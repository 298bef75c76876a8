"""Time-to-train runs under MLPerf Training's clock rules, N seeds, checked and scored.

Clock rules (MLPerf Training, "Benchmark timing"):
* Initialization is everything before `run_start`: reading the config, generating the data,
  building the model and, in the first run of a process, a warm-up on synthetic batches
  (loads kernels, sizes the allocator). It is logged between init_start and init_stop,
  not counted, and capped (`init_cap_s`); a run over the cap is recorded as such and makes
  the score unofficial.
* The clock starts at `run_start`, logged by the training loop's observer hook
  (`clock.TimedRun`) before the loop touches the training data, and stops at the end of the first evaluation that meets
  the target (run_stop success) or at the last evaluation of the step budget (aborted).
* Evaluation is counted, and the clock is never paused. Every timestamp is taken after
  `torch.cuda.synchronize` on GPU, so queued kernels are billed where they ran.

Time-to-train is read back from the result file (run_stop - run_start, as MLPerf's result
summarizer does), every file is run through the compliance checker (a failing file is
invalid and counts as not converged), and the runs are scored with the olympic mean.

Layout under `out` (default results/):
    systems/<system>.json                 MLPerf system description from the inventory
    benchmarks/<name>.json                definition of a custom (open division) benchmark
    <system>/<benchmark>/result_<i>.txt   one MLPerf log per run
    dlbench.sqlite                        the results store (see store.py)
`cache_clear` is logged at the start of each run's initialization: every run rebuilds its
data from scratch and, on GPU, frees the caching allocator; the OS page cache is not dropped
(that needs root, and the built-in datasets are generated in memory).
Each run's training run directory is temporary (nothing goes to the user's runs/), unless
`keep_runs` names a folder to keep them in.
"""
from __future__ import annotations

import gc
import inspect
import itertools
import json
import re
import shutil
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from dlbench.bench.check import check_result_file
from dlbench.bench.clock import Clock, TimedRun
from dlbench.bench.layout import BENCHMARKS_DIR, RESERVED_NAMES, SYSTEMS_DIR, time_to_train_s
from dlbench.bench.live import RunLine
from dlbench.bench.mllog import MLPerfRunLogger
from dlbench.bench.score import score_runs
from dlbench.bench.suite import Benchmark, optimizer_facts
from dlbench.errors import UserError
from dlbench.training.device import synchronize

INIT_CAP_S = 300.0
WARMUP_STEPS = 3
FIXED_KEYS = ("train.batch_size", "optim.name", "train.eval_every", "train.steps", "train.epochs", "train.seed")
# How the system runs the reference, not what it trains: overriding these keeps the closed division.
SYSTEM_KEYS = ("train.device", "train.threads", "train.num_workers", "train.log_every")
_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class RunRecord:
    idx: int
    seed: int
    result_file: str
    status: str
    init_s: float | None
    init_over_cap: bool
    steps: int
    samples: int
    final_metric: float | None
    train_samples_per_s: float | None
    time_to_train_s: float | None = None
    passed_check: bool = False
    check_reason: str = ""
    samples_per_s: float | None = None
    error: str = ""


@dataclass
class BenchmarkResult:
    benchmark: Benchmark
    system: str
    device: str
    device_count: int
    results_dir: Path
    db: Path
    runs: list[RunRecord]
    score: dict
    official: bool
    reason: str
    samples_per_s: float | None
    train_samples_per_s: float | None
    session_id: int | None = None
    extra: dict = field(default_factory=dict)


def _probe(cfg, quality) -> tuple[int, int]:
    """Validate the target against the metrics the family logs and warm the process up; (n_train, n_val).

    Runs inside the first run's initialization. The warm-up runs the loop's own step (the recipe's
    `train_step`: autocast, clipping, scheduler) on a throwaway model and random batches shaped like
    the data, not on the training data, which the clock must see first."""
    from dlbench.api import prepare
    from dlbench.data.loaders import eval_batches
    from dlbench.recipes.registry import get_recipe

    recipe = get_recipe(cfg.model.name)
    bundle, model, task, device = prepare(cfg)
    check_target(recipe, bundle.spec.task, quality)
    xb, yb = next(eval_batches(bundle.val, min(cfg.train.batch_size, len(bundle.val)), device))

    def synthetic(t):
        if t is None or t.is_floating_point():
            return None if t is None else torch.randn_like(t)
        return torch.randint_like(t, 0, int(t.max()) + 1)

    step = recipe.train_step(cfg, model, task, device, WARMUP_STEPS)
    batches = itertools.repeat((synthetic(xb), synthetic(yb)))
    for _ in range(WARMUP_STEPS):
        step.run(batches)
    synchronize(device)
    return len(bundle.train), len(bundle.val)


def check_target(recipe, task: str, quality) -> None:
    """The target names a validation metric of this family, compared in the direction that metric improves."""
    metrics = recipe.metrics(task)
    bare = quality.metric[4:] if quality.metric.startswith("val.") else None
    if bare not in metrics:
        raise UserError(f"the target names '{quality.metric}', which this {recipe.name} model does not log",
                        f"valid metrics: {', '.join(f'val.{m}' for m in metrics)}")
    want = "max" if quality.op in (">=", ">") else "min"
    if metrics[bare] != want:
        better = "lower" if metrics[bare] == "min" else "higher"
        raise UserError(f"the target '{quality}' can never mean 'good enough': {bare} is better when {better}",
                        f"use {'<=' if better == 'lower' else '>='} for {quality.metric}")


def _platform(device: torch.device, inventory: dict, world_size: int) -> str:
    if device.type == "cuda":
        names = [g["name"] for g in inventory.get("gpus", [])] or [torch.cuda.get_device_name(device)]
        return f"{world_size}x{names[0]}"
    return f"{world_size}x{device.type.upper()} ({inventory.get('cpu', {}).get('model', '')})"


def _prepare_out(out: Path, system: str, bench: Benchmark, overwrite: bool) -> Path:
    if not _SYSTEM.fullmatch(system) or system in RESERVED_NAMES:
        raise UserError(f"system name '{system}' is not allowed",
                        f"use letters, digits, '.', '_', '-' (not {' or '.join(sorted(RESERVED_NAMES))})")
    bench_dir = out / system / bench.name
    old = sorted(bench_dir.glob("result_*.txt")) if bench_dir.is_dir() else []
    if old and not overwrite:
        raise UserError(f"{bench_dir} already holds {len(old)} result file(s)",
                        "pass --overwrite to replace them, or another --system / --out (the database keeps both)")
    for f in old:
        f.unlink()
    bench_dir.mkdir(parents=True, exist_ok=True)
    return bench_dir


@dataclass
class Session:
    """What every run of one `bench run` shares."""
    bench: Benchmark
    overrides: list[str]
    steps: int
    clock: Clock
    line: RunLine
    logger_args: dict  # org, division, platform, status of the result files
    init_cap_s: float
    bench_dir: Path
    system: str
    keep_runs: Path | None = None
    sizes: tuple[int, int] | None = None  # (train, eval) samples, from the first run's probe


def timed_run(ses: Session, i: int, seed: int) -> RunRecord:
    """One run: result_<i>.txt from init_start to run_stop, training in a temporary run directory."""
    from dlbench.api import _as_config, train
    from dlbench.training.loop import Diverged

    bench, clock, line = ses.bench, ses.clock, ses.line
    path = ses.bench_dir / f"result_{i}.txt"
    train_kw = {"evaluate_test": False} if "evaluate_test" in inspect.signature(train).parameters else {}
    line.start(i, seed, ses.steps)
    lg = MLPerfRunLogger(path, bench.name, **ses.logger_args)
    obs, error = None, ""
    try:
        t0 = clock.now_ms()
        lg.cache_clear(time_ms=t0)
        lg.init_start(time_ms=t0)
        lg.submission_info(time_ms=t0)
        if clock.device.type == "cuda":  # device memory the previous run's garbage cycles still hold (0.1-0.3 s)
            gc.collect()
            torch.cuda.empty_cache()
        cfg = _as_config(bench.config, [*ses.overrides, f"train.seed={seed}"])
        if ses.sizes is None:
            try:
                ses.sizes = _probe(cfg, bench.quality)
            except UserError:
                lg.close()
                path.unlink(missing_ok=True)
                raise
        t = clock.now_ms()
        lg.hyperparameters(seed=seed, global_batch_size=cfg.train.batch_size, time_ms=t, max_steps=ses.steps,
                           **optimizer_facts(cfg))
        lg.train_samples(ses.sizes[0], time_ms=t)
        lg.eval_samples(ses.sizes[1], time_ms=t)
        obs = TimedRun(lg, bench, clock, t0, ses.init_cap_s, ses.steps, line)
        with tempfile.TemporaryDirectory(prefix="dlbench-bench-") as tmp:
            run_dir = Path(tmp) / "run"
            try:
                train(cfg, run_dir=run_dir, quiet=True, observer=obs, **train_kw)
            except Diverged as e:  # a diverged run is a run that did not converge, not a crash
                obs.abort()
                error = str(e)
            if ses.keep_runs:
                dest = ses.keep_runs / ses.system / bench.name / f"run_{i}"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(run_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("checkpoints"))
    except BaseException:
        if obs is not None:
            obs.abort()
        lg.close()
        line.stop("aborted")
        raise
    lg.close()
    tput = obs.train_samples_per_s
    if not obs.started:
        raise UserError(f"the '{bench.family}' training loop does not report to the benchmark observer",
                        "this model family cannot be benchmarked yet")
    line.stop(obs.status or "aborted")
    return RunRecord(i, seed, str(path), obs.status or "aborted", obs.init_s,
                     bool(obs.init_s and obs.init_s > ses.init_cap_s), obs.steps,
                     obs.steps * bench.global_batch_size, obs.value, tput, error=error)


def checked_request(bench, runs: int | None, overrides) -> tuple[int, list[str], str]:
    """(number of runs, overrides, division) after refusing an unavailable benchmark or an override of what it
    fixes. Overrides of how the system runs (SYSTEM_KEYS) keep the closed division; any other makes it open."""
    reason = bench.unavailable()
    if reason:
        raise UserError(reason, "choose another benchmark (`dlbench bench list`)")
    n = runs or bench.min_runs
    if n < 1:
        raise UserError("--runs must be at least 1")
    extra = list(overrides or [])
    fixed = [o for o in extra if o.partition("=")[0].strip() in FIXED_KEYS]
    if fixed:
        raise UserError(f"override {fixed[0]} changes what the benchmark fixes",
                        "batch size, optimizer, eval cadence, length and seed come from the definition "
                        "(use --max-steps, --seed)")
    changed = [o for o in extra if o.partition("=")[0].strip() not in SYSTEM_KEYS]
    return n, extra, "open" if (bench.custom or changed) else "closed"


def run_benchmark(bench: Benchmark, runs: int | None = None, *, system: str = "local", out: str | Path = "results",
                  db: str | Path | None = None, seed: int = 0, world_size: int = 1, org: str = "dlbench",
                  status: str = "onprem", init_cap_s: float = INIT_CAP_S, overrides: list[str] | None = None,
                  max_steps: int | None = None, keep_runs: str | Path | None = None, progress: bool = True,
                  overwrite: bool = False) -> BenchmarkResult:
    """Run `bench` `runs` times (seeds seed, seed+1, ...), check every result file, score, store.

    world_size: devices per run; 1 today. The distributed scaling sweep passes 1, 2, 4...
    and every stored session carries it as device_count.
    """
    from dlbench.api import _as_config
    from dlbench.bench.store import DEFAULT_DB
    from dlbench.bench.sysinfo import collect_inventory
    from dlbench.bench.system_desc import system_description
    from dlbench.training.device import pick_device

    if world_size != 1:  # every run under torchrun, the MLPerf log written by rank 0 (training/scaling.py)
        from dlbench.bench.scaling import run_benchmark_distributed

        return run_benchmark_distributed(bench, runs, system=system, out=out, db=db, seed=seed, world_size=world_size,
                                         org=org, status=status, init_cap_s=init_cap_s, overrides=overrides,
                                         max_steps=max_steps, keep_runs=keep_runs, progress=progress,
                                         overwrite=overwrite)
    n, extra, division = checked_request(bench, runs, overrides)
    out = Path(out)
    db = Path(db) if db else out / DEFAULT_DB.name
    steps = max_steps or bench.max_steps
    base = [*bench.reference_overrides(steps), *extra]

    cfg0 = _as_config(bench.config, [*base, f"train.seed={seed}"])  # validates before anything is written
    device = pick_device(cfg0.train.device)
    bench_dir = _prepare_out(out, system, bench, overwrite)
    inventory = collect_inventory(str(out))
    description = system_description(inventory, system, submitter=org, division=division, status=status)
    (out / SYSTEMS_DIR).mkdir(exist_ok=True)
    (out / SYSTEMS_DIR / f"{system}.json").write_text(json.dumps(description, indent=1))
    definition = bench.definition()
    if bench.custom:
        (out / BENCHMARKS_DIR).mkdir(exist_ok=True)
        (out / BENCHMARKS_DIR / f"{bench.name}.json").write_text(json.dumps(
            {**asdict(definition), "benchmark": bench.model_dump()}, indent=1))

    ses = Session(bench, base, steps, Clock(device), RunLine(n, f"{bench.quality.op} {bench.quality.target:g}",
                  enabled=progress), dict(org=org, division=division, platform=_platform(device, inventory, world_size),
                  status=status), init_cap_s, bench_dir, system, Path(keep_runs) if keep_runs else None)
    records = [timed_run(ses, i, seed + i) for i in range(n)]
    from dlbench.config import dump_config

    return _finish(bench, records, system, device, world_size, division, out, db, inventory, description, init_cap_s,
                   config_text=dump_config(cfg0))


def _finish(bench, records, system, device, world_size, division, out, db, inventory, description,
            init_cap_s, config_text: str = "") -> BenchmarkResult:
    from concurrent.futures import ThreadPoolExecutor

    from dlbench.bench.store import record_session
    from dlbench.training.device import versions

    custom = bench.definition() if bench.custom else None
    with ThreadPoolExecutor(max_workers=4) as pool:  # one checker subprocess per file, a few at a time
        verdicts = list(pool.map(lambda r: check_result_file(r.result_file, bench.name, custom), records))
    for r, v in zip(records, verdicts):
        r.passed_check, r.check_reason = v.passed, v.reason
        r.time_to_train_s = time_to_train_s(Path(r.result_file))
        if r.passed_check and r.time_to_train_s:
            r.samples_per_s = r.samples / r.time_to_train_s
    score = score_runs([(r.time_to_train_s or 0.0, r.passed_check) for r in records], bench.min_runs)
    reasons = [score.reason.removeprefix("unofficial: ")] if score.reason else []
    if division == "open":
        reasons.append("open division (custom benchmark or overridden reference config)")
    if any(r.init_over_cap for r in records):
        reasons.append(f"initialization exceeded its cap ({init_cap_s:g} s) in some run")
    official = score.official and division == "closed" and not any(r.init_over_cap for r in records)
    good = [r for r in records if r.passed_check]
    sps = statistics.mean(r.samples_per_s for r in good) if good else None
    tputs = [r.train_samples_per_s for r in good if r.train_samples_per_s]
    tput = statistics.mean(tputs) if tputs else None
    dev = f"{device.type} ({description.get('accelerator_model_name') if device.type == 'cuda' else description.get('host_processor_model_name')})"
    result = BenchmarkResult(bench, system, dev, world_size, out, Path(db), records, score.as_dict(), official,
                             "; ".join(reasons), sps, tput)
    session = {"benchmark": bench.name, "benchmark_version": bench.version, "division": division, "system": system,
               "device": dev, "device_count": world_size, "results_dir": str(out.resolve()), "n_runs": len(records),
               "olympic_mean_s": score.olympic_mean_s, "median_s": score.median_s, "stdev_s": score.stdev_s,
               "samples_per_s": sps, "train_samples_per_s": tput, "valid": int(score.valid), "official": int(official),
               "reason": result.reason, "definition": bench.model_dump(), "score": score.as_dict(),
               "versions": versions(), "config": config_text}
    rows = [{**asdict(r), "passed_check": int(r.passed_check), "init_over_cap": int(r.init_over_cap)} for r in records]
    result.session_id = record_session(db, session, rows, inventory, description)
    return result
