"""The report of one run directory: curves, diagnosis, task-specific views, config, hardware, timings.

Everything shown comes from the run directory. The only numbers about the test split are those
already in result.json; views that need predictions (regression scatter and residuals, the worst
mistakes of `dlbench evaluate --errors`) are computed on the validation split, so looking at the report
never amounts to tuning on the test set.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from dlbench.errors import UserError
from dlbench.report import curves, forecast, retraining, tasks
from dlbench.report.document import Absent, Columns, Facts, Pre, Report, Section, Table, Text, fmt, seconds

RUN_FILES = ("config.yaml", "metrics.jsonl", "result.json", "model.json")
TONES = {"good fit": "good", "overfitting": "bad", "underfitting": "bad", "undertrained": "warn"}


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in RUN_FILES)


def _read_json(path: Path, warnings: list[str]) -> dict | None:
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        return d if isinstance(d, dict) else None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        warnings.append(f"{path.name} is unreadable ({e}); it is left out")
        return None


def _records(path: Path) -> list[dict]:
    """metrics.jsonl, read here rather than through RunDir so a report of a classifier never imports torch."""
    f = path / "metrics.jsonl"
    out = []
    for line in (f.read_text(errors="replace").splitlines() if f.is_file() else []):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash or by a run still writing it
        if isinstance(r, dict):
            out.append(r)
    return out


def infer_task(result: dict | None, info: dict | None, records: list[dict]) -> str | None:
    if result and result.get("task"):
        return result["task"]
    if info and isinstance(info.get("spec"), dict) and info["spec"].get("task"):
        return info["spec"]["task"]
    keys = {k for r in records for k in r}
    for key, task in (("val.accuracy", "classification"), ("val.r2", "regression"), ("val.bleu", "seq2seq"),
                      ("val.classifier_fd", "generation"), ("train.d_loss", "generation")):
        if key in keys:
            return task
    return None


def build(path: str | Path) -> Report:
    p = Path(path)
    if not is_run_dir(p):
        raise UserError(f"{p}: not a dlbench run directory (none of {', '.join(RUN_FILES)})",
                        "pass a folder made by `dlbench train`, a studies/<name> folder or a results/ folder")
    warnings: list[str] = []
    result = _read_json(p / "result.json", warnings)
    info = _read_json(p / "model.json", warnings)
    records = _records(p)
    cfg_text = (p / "config.yaml").read_text() if (p / "config.yaml").is_file() else None
    cfg = _yaml(cfg_text, warnings)
    task = infer_task(result, info, records)
    if result is None:
        last = max((r.get("step", 0) for r in records), default=0)
        planned = (cfg.get("train") or {}).get("steps")
        warnings.append(f"this run has not finished (no result.json): last logged step {last}"
                        f"{f' of {planned}' if planned else ''}. The report shows what exists so far; "
                        "final metrics, the test evaluation and the model are absent.")
    name = (result or {}).get("name") or cfg.get("name") or p.name
    family = (result or {}).get("model") or (info or {}).get("family") or (cfg.get("model") or {}).get("name")
    report = Report(title=f"Run {name}", kind="run", source=str(p), warnings=warnings,
                    subtitle=" · ".join(x for x in (family, task, "finished" if result else "not finished") if x))
    best_step = ((result or {}).get("best") or {}).get("step")
    report.sections += [
        _summary(result, info, cfg, records, task),
        Section("Learning curves and diagnosis").add(
            Columns(curves.learning_curves(records, best_step), _diagnosis(result, records, task, best_step))),
        Section("Learning-rate schedule").add(curves.lr_schedule(records, cfg.get("optim"), _logs_lr(family), family), curves.throughput(records)),
        *tasks.sections(p, task, result, info),
        *forecast.sections(p, task, result, info),
        *retraining.sections(result),
        Section("Configuration").add(Pre(cfg_text, "config.yaml: the resolved config that produced this run; "
                                         f"train it again with `dlbench train {p / 'config.yaml'}`.")
                                     if cfg_text else Absent("config.yaml", "the run directory has none")),
        _environment(result),
        _files(p),
    ]
    return report


def _yaml(text: str | None, warnings: list[str]) -> dict:
    if not text:
        return {}
    try:
        d = yaml.safe_load(text)
        return d if isinstance(d, dict) else {}
    except yaml.YAMLError as e:
        warnings.append(f"config.yaml is not valid YAML ({str(e).splitlines()[0]})")
        return {}


def _scalars(d: dict | None) -> dict:
    return {k: v for k, v in (d or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _summary(result, info, cfg, records, task) -> Section:
    s = Section("Summary")
    r = result or {}
    tr = r.get("training") or {}
    best = r.get("best") or {}
    facts = [("model family", r.get("model") or (info or {}).get("family") or (cfg.get("model") or {}).get("name")),
             ("task", task), ("parameters", f"{info['parameters']:,}" if (info or {}).get("parameters") else None),
             ("data", (cfg.get("data") or {}).get("kind")),
             ("steps", tr.get("steps") or max((x.get("step", 0) for x in records), default=None)),
             ("epochs", tr.get("epochs")), ("stopped early", tr.get("stopped_early")),
             ("best validation", f"{best.get('metric')} = {fmt(best.get('value'))} at step {best.get('step')}"
              if best.get("metric") else None)]
    s.add(Facts([(k, v) for k, v in facts if v is not None]))
    val, test = _scalars(r.get("val")), _scalars(r.get("test"))
    if val or test:
        keys = list(dict.fromkeys([*val, *test]))
        s.add(Table(["metric", "validation", "test"], [[k, val.get(k), test.get(k)] for k in keys],
                    "Final metrics from result.json (the kept weights). The test split was evaluated once, "
                    "after training; everything else in this report uses training and validation data only."))
    else:
        evals = [x for x in records if x.get("kind") == "eval"]
        if evals:
            last = evals[-1]
            keys = [k for k in last if k.startswith("val.") and isinstance(last[k], (int, float))]
            s.add(Table(["metric", f"validation at step {last.get('step')}"], [[k[4:], last[k]] for k in keys],
                        "Latest validation evaluation in metrics.jsonl (final metrics are absent: the run has not finished)."))
        s.add(Absent("final validation and test metrics", "result.json is missing"))
    return s


_POINTERS = {
    "overfitting": "In the loss panel of the curves, the validation curve turns upward after the dashed best-step line "
                   "while the training curves keep falling: that widening gap is the overfit.",
    "underfitting": "In the curves the training loss is flat over the last third of training at a level "
                    "where the training metric is still low: more steps alone will not help.",
    "undertrained": "In the curves the training loss is still falling at the last step: the model has "
                    "not converged yet.",
    "good fit": "In the curves the validation loss ends close to its minimum and the training and "
                "validation curves stay close together.",
}


def _diagnosis(result, records, task, best_step) -> list:
    from dlbench.training.diagnose import diagnose

    d = (result or {}).get("diagnosis")
    provisional = d is None
    if provisional:
        evals = [r for r in records if r.get("kind") == "eval"]
        if task not in ("classification", "regression") and not evals:
            return [Absent("diagnosis", "no evaluations in metrics.jsonl yet")]
        d = diagnose(evals, task or "")
    verdict = d.get("verdict", "unknown")
    tone = TONES.get(verdict, "note" if verdict == "unknown" else "warn")
    out = [Text(f"Diagnosis: {verdict}{' (provisional: computed from the evaluations so far)' if provisional else ''}",
                tone),
           Text(str(d.get("reason", "")))]
    if verdict in _POINTERS:
        out.append(Text(_POINTERS[verdict]))
    ev = d.get("evidence") or {}
    if ev:
        out.append(Table(["evidence", "value"], [[k.replace("_", " "), v] for k, v in ev.items()],
                         "The numbers the verdict rests on (from the evaluation records plotted in the curves)."))
    return out


def _flat(d: dict, prefix: str = "", depth: int = 2) -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict) and depth > 1:
            out += _flat(v, f"{prefix}{k}.", depth - 1)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for i, item in enumerate(v[:8]):
                out += _flat({f"{k}[{i}]": item}, prefix, depth)
        else:
            out.append((f"{prefix}{k}", json.dumps(v) if isinstance(v, (dict, list)) else v))
    return out


def _environment(result) -> Section:
    s = Section("Hardware, timings and versions")
    if result is None:
        return s.add(Absent("hardware, timings and versions", "they are written to result.json when the run finishes"))
    hw = next((result[k] for k in ("hardware", "inventory", "system") if isinstance(result.get(k), dict)), None)
    s.add(Facts([("device", result.get("device")), *(_flat(hw) if hw else [])]))
    if not hw:
        s.add(Absent("full hardware inventory", f"result.json records only the device ('{result.get('device')}'); "
                     "`dlbench sysinfo` describes this machine"))
    tm, tr, data = result.get("timing") or {}, result.get("training") or {}, result.get("data") or {}
    rows = [[k.replace("_seconds", "").replace("_", " "), seconds(v)] for k, v in tm.items()]
    if rows:
        s.add(Table(["phase", "time"], rows, "Wall-clock time per phase (train includes the periodic evaluations)."))
    if tr:
        s.add(Facts([("samples / s (training steps only)", tr.get("samples_per_second")),
                     ("global batch size", tr.get("global_batch_size")), ("processes", tr.get("world_size"))]))
    if data:
        s.add(Facts([(f"{k} samples" if k != "test_opened" else "test split opened for", v) for k, v in data.items()]))
    if result.get("versions"):
        s.add(Facts([(k, v) for k, v in result["versions"].items()]))
    return s


def _files(p: Path) -> Section:
    rows = []
    for f in sorted(p.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            rows.append([str(f.relative_to(p)), f"{f.stat().st_size / 1024:.1f} KiB"])
    s = Section("Run directory").add(Table(["file", "size"], rows[:60], f"Files in {p}" +
                                           (f" (first 60 of {len(rows)})" if len(rows) > 60 else "")))
    missing = [f for f in ("config.yaml", "metrics.jsonl", "model.safetensors", "model.json", "result.json")
               if not (p / f).is_file()]
    if missing:
        s.add(Absent(", ".join(missing), "not written (yet): a finished run has all of them"))
    return s


def _logs_lr(family: str | None) -> bool:
    """Whether the run's family logs one learning rate (its recipe says; an unknown family is assumed to)."""
    from dlbench.recipes.registry import get_recipe  # lazy: the recipes load torch, the rest of a report does not

    try:
        return get_recipe(family).logs_lr if family else True
    except UserError:
        return True
