"""The report of a hyperparameter search: studies/<name>/ (study.db, trials.csv, the best config).

The study is read from its Optuna storage with `optuna.load_study` and drawn with
`optuna.visualization.matplotlib`; every plot is optional, because a young study (one trial, no
completed trial, one parameter) cannot support all of them, and the report says which and why.
When only trials.csv is left (the database was not copied along), a reduced report is made from it.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from dlbench.errors import UserError
from dlbench.report import figures as F
from dlbench.report.document import Absent, Facts, Pre, Report, Section, Table, Text, fmt, seconds

DB_NAMES = ("study.db", "optuna.db")
BEST_PATTERNS = ("best*.yaml", "best*.yml")
MAX_TRIAL_ROWS = 60


def is_study_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in (*DB_NAMES, "study.json", "trials.csv"))


def _json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _urls(path: Path, info: dict) -> list[str]:
    """Storage URLs to try: study.json's (e.g. PostgreSQL shared by several machines), then a local file."""
    urls = []
    url = info.get("storage")
    if isinstance(url, str) and "***" not in url:  # study.json masks passwords: that URL cannot be opened
        if not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).is_file():
            urls.append(url)
    urls += [f"sqlite:///{(path / n).resolve()}" for n in DB_NAMES if (path / n).is_file()]
    return list(dict.fromkeys(urls))


def load(path: Path, info: dict, warnings_out: list[str]):
    """The optuna Study of `path`, or None when no storage can be opened (the report falls back to trials.csv)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for url in _urls(path, info):
        try:
            # skip_table_creation: a report only reads; it must never create or migrate a user's tables
            storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
            names = [s.study_name for s in optuna.study.get_all_study_summaries(storage)]
        except Exception as e:  # sqlalchemy and drivers raise many types for an unreachable or foreign database
            warnings_out.append(f"cannot read the study storage {url.split('@')[-1]} "
                                f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})")
            continue
        name = next((n for n in (info.get("study"), path.name) if n in names), names[0] if names else None)
        if name is None:
            warnings_out.append(f"the storage {url.split('@')[-1]} holds no study")
            continue
        return optuna.load_study(study_name=name, storage=storage)
    return None


def build(path: str | Path) -> Report:
    p = Path(path)
    if not is_study_dir(p):
        raise UserError(f"{p}: not a study directory (no study.json, study.db or trials.csv)",
                        "pass a studies/<name> folder made by `dlbench tune`")
    info = _json(p / "study.json")
    warn: list[str] = []
    study = load(p, info, warn)
    report = Report(title=f"Study {study.study_name if study else info.get('study', p.name)}", kind="study",
                    source=str(p), warnings=warn)
    if study is None:
        if not (p / "trials.csv").is_file():
            raise UserError(f"{p}: neither the study storage nor trials.csv can be read",
                            "copy study.db along with the folder, or rerun `dlbench tune show`")
        report.warnings.append("no readable study storage: this reduced report is built from trials.csv only")
        report.sections += _from_csv(p)
    else:
        report.sections += _from_study(study, p, info)
    report.sections += [_best_config(p, study), _final(p, study), _space(p)]
    return report


def _plot(fn, alt: str, caption: str, size=(6.8, 3.6), **kw):
    """One optuna matplotlib plot as a figure, or Absent with optuna's reason when it cannot be drawn."""
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)
            ax = fn(**kw)
        return F.from_axes(ax, alt, caption, size)
    except (ValueError, RuntimeError, ZeroDivisionError, IndexError, KeyError, ImportError) as e:
        import matplotlib.pyplot as plt

        plt.close("all")
        return Absent(alt, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'not enough trials'}")


def _metric(study, info: dict) -> str | None:
    meta = study.user_attrs.get("dlbench") if study is not None else None
    return info.get("metric") or (meta.get("metric") if isinstance(meta, dict) else None)


def _from_study(study, p: Path, info: dict) -> list[Section]:
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as om

    trials = study.get_trials(deepcopy=False)
    by_state = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    multi = len(study.directions) > 1
    names = study.metric_names or ([_metric(study, info)] if _metric(study, info) and not multi else
                                   [f"objective {i}" for i in range(len(study.directions))])
    target = (lambda t: t.values[0]) if multi else None
    kw = dict(target=target, target_name=names[0]) if multi else {"target_name": names[0]}

    summary = Section("Summary")
    facts = [("study", study.study_name), ("storage", str(info.get("storage") or "study.db")),
             ("direction", ", ".join(d.name.lower() for d in study.directions)), ("objective", ", ".join(names)),
             ("trials", len(trials)), *[(f"{k} trials", v) for k, v in by_state.items() if v]]
    if complete and not multi:
        b = study.best_trial
        facts += [("best value", b.value), ("best trial", f"#{b.number}")]
    attrs = {k: v for k, v in study.user_attrs.items() if isinstance(v, (str, int, float, bool))}
    summary.add(Facts(facts + list(attrs.items())))
    if not complete:
        summary.add(Text("No trial has completed yet: most plots below need at least one (importances need two).", "warn"))

    hist = Section("Optimization history").add(
        _plot(om.plot_optimization_history, "objective value of every trial and the best so far",
              "Each dot is a completed trial; the line is the best value found up to that trial. A line that "
              "stopped improving long ago means more trials of this search space will not help much.",
              study=study, **kw))
    imp = Section("Parameter importances")
    if len(complete) >= 2:
        from optuna.importance import FanovaImportanceEvaluator

        # fANOVA on a small forest: stable enough to rank parameters, fast enough for a report
        imp.add(_plot(om.plot_param_importances, "importance of each hyperparameter for the objective",
                      "fANOVA importance: the share of the objective's variance each parameter explains "
                      "over the completed trials. Tune the top ones; fix the rest.",
                      study=study, evaluator=FanovaImportanceEvaluator(n_trees=32, seed=0), **kw))
    else:
        imp.add(Absent("parameter importances", f"need at least two completed trials ({len(complete)} so far)"))
    shape = Section("Parameters vs objective").add(
        _plot(om.plot_parallel_coordinate, "parallel coordinates of the parameters and the objective",
              "One line per completed trial, from its parameter values to its objective (colour).",
              size=(7.2, 3.8), study=study, **kw),
        _plot(om.plot_slice, "objective against each parameter",
              "Slice plots: the objective against each parameter, colour = trial number (later trials darker).",
              size=(min(3.0 * max(1, len(_param_names(trials))), 10.0), 3.2), study=study, **kw))
    pruning = _pruning(study, trials, by_state, om)
    return [summary, hist, imp, shape, pruning, _trials_table(trials, names)]


def _param_names(trials) -> list[str]:
    return sorted({k for t in trials for k in t.params})


def _pruning(study, trials, by_state, om) -> Section:
    s = Section("Pruned vs complete trials")
    n_pruned, n_complete = by_state.get("pruned", 0), by_state.get("complete", 0)
    rows = [[state, n, f"{sum((t.duration.total_seconds() if t.duration else 0) for t in trials if t.state.name.lower() == state):.1f} s"]
            for state, n in by_state.items() if n]
    s.add(Table(["state", "trials", "compute time"], rows))
    if n_pruned:
        s.add(Text(f"{n_pruned} of {n_pruned + n_complete} finished trials were stopped early by the pruner, "
                   "saving the time of training them to the end."))
    else:
        s.add(Text("No trial was pruned" + ("" if any(t.intermediate_values for t in trials)
                                              else " (the trials reported no intermediate values to prune on)") + "."))
    if any(t.intermediate_values for t in trials):
        s.add(_plot(om.plot_intermediate_values, "intermediate objective values of each trial",
                    "Intermediate values each trial reported while training; pruned trials end early.", study=study))
    else:
        s.add(Absent("intermediate values plot", "no trial reported intermediate values"))
    return s


def _trials_table(trials, names) -> Section:
    params = _param_names(trials)
    rows = []
    for t in sorted(trials, key=lambda t: t.number)[:MAX_TRIAL_ROWS]:
        vals = t.values or [None] * len(names)
        rows.append([t.number, t.state.name.lower(), *vals, seconds(t.duration.total_seconds()) if t.duration else None,
                     *[t.params.get(k) for k in params]])
    caption = "Every trial" if len(trials) <= MAX_TRIAL_ROWS else f"First {MAX_TRIAL_ROWS} of {len(trials)} trials"
    return Section("Trials").add(Table(["trial", "state", *names, "duration", *params], rows, caption))


def _from_csv(p: Path) -> list[Section]:
    import pandas as pd

    try:
        df = pd.read_csv(p / "trials.csv")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserError(f"{p / 'trials.csv'}: unreadable ({str(e).splitlines()[0]})") from None
    value = next((c for c in ("value", "values_0", "objective") if c in df.columns), None)
    states = df["state"].astype(str).str.lower().value_counts().to_dict() if "state" in df.columns else {}
    out = [Section("Summary").add(Facts([("trials", len(df)), *[(f"{k} trials", v) for k, v in states.items()]]),
                                  Absent("study database", "plots that need Optuna's storage (importances, "
                                         "parallel coordinates, slices, intermediate values) are left out"))]
    hist = Section("Optimization history")
    if value is not None and df[value].notna().any():
        done = df[df[value].notna()]
        x = done["number"] if "number" in done.columns else done.index
        fig, axes = F.new(6.8, 3.4)
        ax = axes[0, 0]
        ax.scatter(x, done[value], s=14, color=F.TRAIN, label="trial")
        ax.set(xlabel="trial", ylabel=value, title="optimization history (from trials.csv)")
        ax.legend()
        hist.add(F.to_figure(fig, "objective value of every trial", "Objective value of each completed trial."))
    else:
        hist.add(Absent("optimization history", "trials.csv has no objective values"))
    cols = list(df.columns)[:12]
    rows = df[cols].head(MAX_TRIAL_ROWS).astype(object).where(df[cols].head(MAX_TRIAL_ROWS).notna(), None).values.tolist()
    out += [hist, Section("Trials").add(Table(cols, rows, f"trials.csv ({len(df)} rows)"))]
    return out


def _best_config(p: Path, study) -> Section:
    s = Section("Best config")
    if study is not None:
        done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        if done and len(study.directions) == 1:
            b = study.best_trial
            s.add(Table(["parameter", "best value"], [[k, v] for k, v in b.params.items()],
                        f"Parameters of trial #{b.number} (objective {fmt(b.value)})."))
            run_dir = b.user_attrs.get("dlbench.run_dir")
            if run_dir:
                s.add(Text(f"The best trial's run directory is {run_dir}; `dlbench report {run_dir}` shows its "
                           "curves and diagnosis."))
    files = [f for pat in BEST_PATTERNS for f in sorted(p.glob(pat)) if f.is_file()]
    for f in files[:2]:
        s.add(Pre(f.read_text(errors="replace"), f"{f.name}: the selected config. Train it with `dlbench train {f}`."))
    if not files:
        s.add(Absent("best config file", f"no best.yaml in {p} (it is written once a trial has completed)"))
    return s


def _final(p: Path, study) -> Section:
    """The selected model's one test evaluation, as the study recorded it (never recomputed here)."""
    s = Section("Final model")
    final = _json(p / "final.json")
    if not final and study is not None:
        final = study.user_attrs.get("dlbench.final") or {}
    if not final:
        return s.add(Absent("final validation and test numbers",
                            "the test split is evaluated once, after the study's last trial; that has not happened yet"))
    s.add(Facts([(k.replace("_", " "), final.get(k)) for k in ("trial", "metric", "direction", "value", "how", "run_dir")
                 if final.get(k) is not None]))
    val, test = final.get("val") or {}, final.get("test") or {}
    keys = [k for k in dict.fromkeys([*val, *test]) if isinstance(val.get(k, test.get(k)), (int, float))]
    if keys:
        s.add(Table(["metric", "validation", "test"], [[k, val.get(k), test.get(k)] for k in keys],
                    "Selection used validation only; the test split was evaluated once, for the selected trial."))
    return s


def _space(p: Path) -> Section:
    s = Section("Search space")
    f = p / "space.yaml"
    if f.is_file():
        return s.add(Pre(f.read_text(errors="replace"), "space.yaml"))
    return s.add(Absent("space.yaml", "the study folder has no copy of the search space"))
