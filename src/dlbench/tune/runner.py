"""`dlbench tune` as library calls: run (or join, or resume) a study, and show one."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from dlbench.errors import UserError
from dlbench.tune.final import finalize, read_study_json, summary, write_json, write_outputs
from dlbench.tune.storage import open_storage, safe_url
from dlbench.tune.parallel import run_parallel
from dlbench.tune.study import TuneSpec, load_inputs, open_study, work


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the --n-jobs workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_study(spec: TuneSpec, on_trial=None) -> dict:
    """Run trials until the study has `spec.trials`, evaluate the selected model on test once, write outputs.

    on_trial(ctx): called once the study is open (before any trial of this start), then after each trial
    (and every second while --n-jobs workers run): the progress display."""
    if spec.trials < 1 or spec.n_jobs < 1:
        raise UserError("--trials and --n-jobs must be at least 1")
    spec.study = spec.study or Path(spec.config).stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.study):
        raise UserError(f"study name '{spec.study}' is not usable as a directory name",
                        "use letters, digits, '.', '_' and '-'")
    inputs = load_inputs(spec)  # every problem in the config and the space, before anything is created
    ctx = open_study(spec, inputs)
    d = spec.study_dir
    d.mkdir(parents=True, exist_ok=True)
    url = spec.storage_url
    write_json(d / "study.json", {"study": spec.study, "storage": url if safe_url(url) == url else safe_url(url),
                                         "metric": ctx.metric, "direction": ctx.direction,
                                         "config": str(spec.config), "space": str(spec.space)})
    if Path(spec.space).is_file() and not (d / "space.yaml").exists():  # what the study searched, for the record
        shutil.copyfile(spec.space, d / "space.yaml")
    t0, c0 = time.perf_counter(), _cpu_s()
    if on_trial:
        on_trial(ctx)  # the study is valid and open: progress can say what starts
    if spec.n_jobs > 1:
        run_parallel(ctx, on_trial=on_trial)
    else:
        work(ctx, on_trial=on_trial)
    elapsed, cpu = time.perf_counter() - t0, _cpu_s() - c0
    final = finalize(ctx, takeover=spec.resume)
    files = write_outputs(ctx.study, d)
    ctx.lock.close()
    return {**summary(ctx.study), "final": final, "files": files, "elapsed_s": elapsed, "cpu_s": cpu, "study_dir": str(d)}


def open_existing(study_dir: str | Path, storage: str | None = None):
    """The Optuna study behind a study directory (its storage from study.json, or --storage)."""
    import optuna

    from dlbench.tune.study import quiet_optuna

    quiet_optuna()
    info = read_study_json(Path(study_dir))
    url = storage or info["storage"]
    local = Path(study_dir) / "study.db"
    if storage is None and url.startswith("sqlite:///") and not Path(url[10:]).exists() and local.exists():
        url = f"sqlite:///{local.resolve()}"  # the study directory was moved or copied
    if "***" in url:
        raise UserError(f"{study_dir}/study.json does not keep the storage password",
                        "pass --storage with the full URL (or use a password file such as ~/.pgpass)")
    try:
        return optuna.load_study(study_name=info["study"], storage=open_storage(url))
    except KeyError:
        raise UserError(f"no study '{info['study']}' in {safe_url(url)}", "check --storage") from None


def show_study(study_dir: str | Path, storage: str | None = None) -> dict:
    """Rewrite a study's outputs from its storage and summarize it; never evaluates the test split."""
    study = open_existing(study_dir, storage)
    files = write_outputs(study, Path(study_dir))
    return {**summary(study), "files": files, "study_dir": str(study_dir),
            "trials": [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                        "steps": t.user_attrs.get("dlbench.steps")} for t in study.get_trials(deepcopy=False)]}
