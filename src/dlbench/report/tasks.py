"""Task-specific parts of a run report: classifiers, regressors, translators, generators."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.report import figures as F
from dlbench.report.document import Absent, Section, Table, Text, fmt

MAX_POINTS = 4000  # scatter plots beyond this are subsampled: more points only add ink
ERRORS_SHOWN = 20  # the worst validation mistakes the report lists (as `dlbench evaluate RUN --errors 20`)
SAMPLE_KEYS = ("samples", "translations", "examples", "sample_translations")


def sections(p: Path, task: str | None, result: dict | None, info: dict | None) -> list[Section]:
    val = (result or {}).get("val") or {}
    out = []
    validation = _Validation(p)
    if task == "classification":
        out.append(classification(val, info))
    elif task == "regression":
        out.append(regression(p, result, validation))
    if task == "language_model":
        out.append(generated_text(val))
    elif task == "seq2seq" or "bleu" in val or any(isinstance(val.get(k), list) for k in SAMPLE_KEYS):
        out.append(translations(val, result))
    if task in ("classification", "regression", "seq2seq"):
        out.append(mistakes(validation, task, result))
    images = written_images(p)
    if task == "generation" or images:
        out.append(generated(images, task, val))
    return out


def classification(val: dict, info: dict | None) -> Section:
    s = Section("Confusion matrix and per-class results")
    cm, per = val.get("confusion_matrix"), val.get("per_class")
    if not cm:
        return s.add(Absent("confusion matrix", "result.json has no validation confusion matrix "
                            "(the run has not finished, or its task reports none)"))
    names = list(per) if isinstance(per, dict) and len(per) == len(cm) else \
        ((info or {}).get("spec") or {}).get("class_names") or [str(i) for i in range(len(cm))]
    m = np.asarray(cm)
    s.add(F.heatmap(m, names, "validation confusion matrix", "predicted class", "true class",
                    f"confusion matrix of {len(names)} classes on the validation split",
                    "Rows: true class; columns: predicted class; colour: fraction of the row, numbers: counts. "
                    "A bright off-diagonal cell is a pair of classes the model confuses."))
    b = val.get("binary")
    if isinstance(b, dict) and len(m) == 2:
        s.add(Table(["", f"predicted '{b.get('negative')}'", f"predicted '{b.get('positive')}'"],
                    [[f"true '{b.get('negative')}' (negative)", f"TN {b.get('tn')}", f"FP {b.get('fp')}"],
                     [f"true '{b.get('positive')}' (positive)", f"FN {b.get('fn')}", f"TP {b.get('tp')}"]],
                    f"Validation confusion matrix by outcome: the positive class is '{b.get('positive')}', "
                    f"{b.get('positive_is', 'label 1')}.", numeric=False))
    off = m.copy()
    np.fill_diagonal(off, 0)
    if off.sum():
        i, j = np.unravel_index(off.argmax(), off.shape)
        s.add(Text(f"Most frequent confusion on validation: true '{names[i]}' predicted as '{names[j]}' "
                   f"({int(off[i, j])} of {int(m[i].sum())} samples of '{names[i]}')."))
    if isinstance(per, dict) and per:
        rows = [[c, d.get("precision"), d.get("recall"), d.get("f1"), d.get("support")] for c, d in per.items()]
        worst = min(rows, key=lambda r: r[3] if isinstance(r[3], (int, float)) else 1.0)
        s.add(Text(f"Weakest class: '{worst[0]}' (F1 {fmt(worst[3], 3)}, recall {fmt(worst[2], 3)})."),
              Table(["class", "precision", "recall", "F1", "support"], rows, "Per-class results on the validation split."))
    else:
        s.add(Absent("per-class table", "result.json has no per_class entry"))
    return s


class _Validation:
    """The run's model and its validation split, loaded once for every section of one report that needs them."""

    def __init__(self, p: Path):
        self.p, self._loaded = p, None

    def get(self):
        if self._loaded is None:
            from dlbench.data import build_data
            from dlbench.run.load import load_run

            run = load_run(self.p, device="cpu")  # a report needs no accelerator, and must not take one from training
            self._loaded = run, build_data(run.config.data).val  # the test split stays sealed: never opened here
        return self._loaded


def validation_predictions(p: Path | _Validation) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) targets of the validation split, by the run's own model and preprocessing."""
    from dlbench.tasks.supervised import collect_outputs

    run, val = (p if isinstance(p, _Validation) else _Validation(p)).get()
    outputs, y = collect_outputs(run.model, val, 512, run.device)
    pred = run.task.predictions(outputs)["prediction"]
    return y.cpu().numpy().reshape(len(y), -1), np.asarray(pred).reshape(len(y), -1)


def regression(p: Path, result: dict | None, validation: _Validation | None = None) -> Section:
    s = Section("Predictions vs truth (validation)")
    if result is None:
        return s.add(Absent("prediction plots", "the run has no final model yet (not finished)"))
    try:
        y, pred = validation_predictions(validation or p)
    except (UserError, RuntimeError, ValueError, OSError, KeyError) as e:
        return s.add(Absent("prediction plots", f"could not evaluate the model on the validation split: {e}"))
    if y.shape[1] > 1:
        s.add(Text(f"The model has {y.shape[1]} outputs; the plots show output 0, the table all of them."))
    yt, yp = y[:, 0], pred[:, 0]
    res = yt - yp
    idx = np.random.default_rng(0).permutation(len(yt))[:MAX_POINTS]
    fig, axes = F.new(6.8, 3.3, ncols=2)
    ax = axes[0, 0]
    ax.scatter(yt[idx], yp[idx], s=9, alpha=0.6, color=F.TRAIN, edgecolor="none")
    lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
    ax.plot([lo, hi], [lo, hi], color=F.IDEAL, ls="--", lw=1, label="perfect prediction")
    ax.set(xlabel="true", ylabel="predicted", title="predicted vs true")
    ax.legend(loc="upper left")
    ax = axes[0, 1]
    ax.scatter(yp[idx], res[idx], s=9, alpha=0.6, color=F.VAL, edgecolor="none")
    ax.axhline(0, color=F.IDEAL, ls="--", lw=1)
    ax.set(xlabel="predicted", ylabel="residual (true − predicted)", title="residuals")
    r2 = 1 - float((res ** 2).sum()) / max(float(((yt - yt.mean()) ** 2).sum()), 1e-12)
    s.add(F.to_figure(fig, "predicted against true values and residuals on the validation split",
                      f"{len(yt)} validation samples{f' ({MAX_POINTS} plotted)' if len(yt) > MAX_POINTS else ''}: "
                      f"R² {r2:.3f}, MAE {np.abs(res).mean():.4g}. Points on the dashed line are exact; a trend in "
                      "the residuals means the model is biased over part of the range."))
    fig, axes = F.new(6.4, 2.6)
    axes[0, 0].hist(res, bins=min(40, max(10, len(res) // 10)), color=F.VAL, alpha=0.8)
    axes[0, 0].set(xlabel="residual (true − predicted)", ylabel="samples", title="residual distribution")
    s.add(F.to_figure(fig, "histogram of validation residuals", "Residuals should be centred on zero."))
    errs = pred - y
    s.add(Table(["output", "MAE", "RMSE", "bias (mean predicted − true)"],
                [[j, float(np.abs(errs[:, j]).mean()), float(np.sqrt((errs[:, j] ** 2).mean())), float(errs[:, j].mean())]
                 for j in range(y.shape[1])], "Validation errors per output, in the target's units."))
    return s


MISTAKE_COLUMNS = {"rank": "rank", "input": "input", "text": "text", "true": "true", "predicted": "predicted",
                   "p_true": "P(true class)", "confidence": "confidence", "outcome": "outcome", "error": "error",
                   "abs_error": "|error|", "source": "source", "reference": "reference", "hypothesis": "hypothesis",
                   "chrf": "chrF"}


def mistakes(validation: _Validation, task: str, result: dict | None) -> Section:
    """The worst validation mistakes, the records `dlbench evaluate RUN --errors 20` lists (validation only:
    the report never opens the test split)."""
    from dlbench.tasks.errors import RANKED_BY

    s = Section("Worst mistakes (validation)")
    if result is None:
        return s.add(Absent("worst mistakes", "the run has no final model yet (not finished)"))
    try:
        run, val = validation.get()
        records = run.task.errors(run.model, val, ERRORS_SHOWN, run.device)
    except (UserError, RuntimeError, ValueError, OSError, KeyError, AttributeError) as e:
        return s.add(Absent("worst mistakes", f"could not evaluate the model on the validation split: {e}"))
    if not records:
        return s.add(Text(f"The model makes no mistakes on the {len(val)} validation samples."))
    cols = [c for c in MISTAKE_COLUMNS if any(c in r for r in records)]
    if "source" in cols and all(r.get("source") == r.get("input") for r in records):
        cols.remove("input")  # a sentence named by itself: show it once
    rows = [[r.get(c) for c in cols] for r in records]
    return s.add(Table([MISTAKE_COLUMNS[c] for c in cols], rows,
                       f"The {len(records)} worst mistakes on the {len(val)} validation samples: "
                       f"{RANKED_BY.get(task, task)}. Inputs are named as in the data: a CSV 'row K' is its "
                       "K-th data row (1-based, header not counted), an NPZ 'x[i]' is 0-based; "
                       f"`dlbench evaluate {validation.p} --errors N` lists them as JSON.", numeric=False))


def generated_text(val: dict) -> Section:
    """A language model: what it writes after fixed prompts, beside its bits per character."""
    s = Section("Generated text")
    if isinstance(val.get("bits_per_char"), (int, float)):
        s.add(Text(f"Validation: {fmt(val['bits_per_char'], 4)} bits per character, perplexity "
                   f"{fmt(val.get('perplexity'), 4)} per token. Continuations of the first 40 characters of "
                   "validation windows, temperature 0.8, seed 0 (`dlbench generate RUN --prompt ...` for more)."))
    samples = val.get("samples")
    if not isinstance(samples, list) or not samples:
        return s.add(Absent("generated text", "result.json's validation entry lists none"))
    return s.add(Table(["prompt", "generated"], [[x.get("prompt"), x.get("generated")] for x in samples[:10]],
                       f"{min(len(samples), 10)} samples.", numeric=False))


def translations(val: dict, result: dict | None) -> Section:
    s = Section("Sample translations")
    scores = [f"{k.upper() if k == 'bleu' else ('chrF' if k == 'chrf' else k)} {fmt(val[k], 3)}"
              for k in ("bleu", "chrf", "ter") if isinstance(val.get(k), (int, float))]
    if scores:
        s.add(Text("Validation: " + ", ".join(scores) + " (sacreBLEU, corpus level)."))
    samples = next((val[k] for k in SAMPLE_KEYS if isinstance(val.get(k), list) and val[k]), None)
    if not samples:
        return s.add(Absent("sample translations", "result.json's validation entry lists none"
                            if result else "the run has not finished"))
    if isinstance(samples[0], dict):
        samples = [_with_bleu(x) for x in samples[:25]]
        cols = list(dict.fromkeys(k for x in samples for k in x))
        rows = [[x.get(c) for c in cols] for x in samples]
    else:
        cols = ["source", "reference", "hypothesis"][:len(samples[0])] if isinstance(samples[0], (list, tuple)) else ["sample"]
        rows = [list(x) if isinstance(x, (list, tuple)) else [x] for x in samples[:25]]
    return s.add(Table(cols, rows, f"{min(len(samples), 25)} of {len(samples)} validation samples.", numeric=False))


def _with_bleu(x: dict) -> dict:
    """Add the sentence-level BLEU of one sample (sacreBLEU; smoothed, as a sentence has few n-grams)."""
    hyp = next((x[k] for k in ("hypothesis", "prediction", "translation", "output") if isinstance(x.get(k), str)), None)
    ref = x.get("reference") if isinstance(x.get("reference"), str) else None
    if hyp is None or ref is None or any("bleu" in k.lower() for k in x):
        return x
    try:
        import sacrebleu

        return {**x, "sentence BLEU": round(sacrebleu.sentence_bleu(hyp, [ref]).score, 1)}
    except ImportError:
        return x


def written_images(p: Path) -> list[Path]:
    """PNG/JPEG files the run wrote (e.g. GAN sample grids), by the step number in their names."""
    skip = {"checkpoints"}
    files = [f for f in p.rglob("*") if f.suffix.lower() in (".png", ".jpg", ".jpeg") and f.is_file()
             and not skip & set(f.relative_to(p).parts[:-1])]
    return sorted(files, key=lambda f: (tuple(int(n) for n in re.findall(r"\d+", f.stem)) or (0,), f.name))


def generated(images: list[Path], task: str | None, val: dict) -> Section:
    gen = task == "generation"
    s = Section("Generated samples" if gen else "Images written by the run")
    fd = {k: v for k, v in val.items() if "fd" in k.lower() and isinstance(v, (int, float))}
    if fd:
        s.add(Text(", ".join(f"{k} {fmt(v)}" for k, v in fd.items()) + " on validation (Fréchet distance in a "
                   "classifier's feature space: lower means generated samples are closer to real ones)."))
    if not images:
        return s.add(Absent("sample grids", "the run directory has no PNG images"))
    # first, last and evenly spaced ones in between: how the samples evolved, in bounded size
    keep = images if len(images) <= 8 else [images[int(round(i))] for i in np.linspace(0, len(images) - 1, 8)]
    for f in dict.fromkeys(keep):
        fig = F.image_file(f, f"image {f.name} written by the run", f.name)
        s.add(fig if fig is not None else Absent(f.name, "not a readable image"))
    if len(images) > len(keep):
        s.add(Text(f"{len(keep)} of {len(images)} images shown (first, last and evenly spaced)."))
    return s
