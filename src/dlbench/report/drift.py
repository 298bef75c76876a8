"""The drift report of `dlbench monitor`: a run's reference profile against live data, as one HTML file.

Live data is the server's request log (the inputs it sampled, with the answers it gave) or new inputs in any file
`dlbench predict` reads (a CSV, a folder of images, a text file), predicted here with the run's own predictor.
Scores are those of the server's gauges (dlbench.monitor.stats) over all the live rows at once.

A language model's new inputs are prompts (a text file, one per line, `\\n` for a line break, as
`dlbench generate --prompts` reads them); a forecaster's are a history CSV (as `dlbench predict` reads it). Both are
compared on their inputs only: their reference profiles hold no predictions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.monitor.features import Extractor, SeriesFeatures, input_features, output_features
from dlbench.monitor.live import is_request_log, read_request_log
from dlbench.monitor.profile import FeatureRef, load_profile, parse_features
from dlbench.monitor.stats import Score, Thresholds, score_all, verdict
from dlbench.monitor.window import Ranges
from dlbench.report.document import Facts, Report, Section, Table, Text, fmt

PLOTS = 12
"""Features plotted per part (inputs, predictions): the most drifted first."""


@dataclass
class Live:
    inputs: dict
    outputs: dict
    source: str


def _is_lm(info: dict) -> bool:
    return info["spec"].get("task") == "language_model"


def _request_log(sources: list[str], model: str | None, version: str | None, info: dict) -> Live:
    from dlbench.codecs import codec_for
    from dlbench.codecs.base import TensorSpec

    codec = codec_for(info["preprocessing"])
    specs = [TensorSpec("text_input", "BYTES", (-1,))] if _is_lm(info) else \
        codec.request_specs(tuple(info["spec"]["input_shape"]))
    inputs, outputs, (m, v), n = read_request_log(sources, specs, model, version)
    return Live(inputs, outputs, f"request log {', '.join(sources)}: {n} sampled requests to model {m} version {v}")


def _new_inputs(run_dir: str, sources: list[str], info: dict, in_ex: Extractor) -> Live:
    import torch

    from dlbench.data.bundle import Split
    from dlbench.monitor.reference import predict_rows
    from dlbench.run.load import load_run

    if len(sources) != 1:
        raise UserError("give one file or folder of new inputs (several are for rotated request logs)")
    if isinstance(in_ex, SeriesFeatures):  # a history CSV, not predicted (no prediction profile)
        from dlbench.codecs import codec_for
        from dlbench.monitor.series import file_rows

        rows, what = file_rows(sources[0], codec_for(info["preprocessing"]).pre)
        return Live(rows, {}, what)
    if _is_lm(info):  # prompts, not generated from (no prediction profile)
        from dlbench.data.tokenize import read_text_lines

        prompts = [line.replace("\\n", "\n").encode("utf-8") for line in read_text_lines(sources[0])]
        arr = np.empty(len(prompts), dtype=object)
        arr[:] = prompts
        return Live({"text_input": arr}, {}, f"{sources[0]}: {len(prompts)} prompts")
    loaded = load_run(run_dir)
    loaded.recipe.check_predicts(loaded)
    x, names = loaded.codec.read(sources[0])
    split = Split(torch.from_numpy(np.ascontiguousarray(x)), torch.zeros(len(x)))
    split.sources = names  # text codecs rebuild requests from the raw lines
    requests = loaded.codec.requests(split)
    predictor = loaded.recipe.predictor(loaded, loaded.name, "1")
    return Live(requests, predict_rows(predictor, requests), f"{sources[0]}: {len(x)} new inputs, predicted here")


def compare(run_dir: str, sources: list[str], model: str | None = None, version: str | None = None,
            thresholds: Thresholds = Thresholds(min_rows=50), far_std: float = 3.0) -> tuple[Report, dict]:
    """(the HTML report, a JSON summary) of live data against the run's reference profile."""
    from dlbench.codecs import codec_for
    from dlbench.data.bundle import DataSpec
    from dlbench.run.rundir import read_model_json

    for s in sources:
        if not Path(s).exists():
            raise UserError(f"{s}: no such file or folder", "give the server's --request-log file or a file of new inputs")
    info = read_model_json(run_dir)
    profile = load_profile(run_dir, info)
    if profile is None:
        raise UserError(f"{run_dir}: no reference profile (the run was trained before dlbench stored one)",
                        "retrain the run with this dlbench to monitor it")
    codec = codec_for(info["preprocessing"])
    spec = DataSpec.from_json(info["spec"])
    in_ex = input_features(codec)
    live = _request_log(sources, model, version, info) if all(map(is_request_log, sources)) \
        else _new_inputs(run_dir, sources, info, in_ex)
    out_ex = output_features(spec, list(live.outputs))
    where = f"{run_dir}/reference_profile.json"
    in_refs = parse_features(profile, "inputs", in_ex.names, where)
    out_refs = parse_features(profile, "outputs", out_ex.names, where) if profile.get("outputs") else []
    in_rows = in_ex.extract(live.inputs)
    out_rows = out_ex.extract(live.outputs) if out_refs else np.zeros((len(in_rows), 0))
    ins, outs = score_all(in_refs, in_rows, thresholds), score_all(out_refs, out_rows, thresholds)
    out_of_range, far = Ranges(in_refs, far_std).check(in_rows)
    tone, line = verdict(ins, outs)
    summary = {"run": str(run_dir), "source": live.source, "rows": len(in_rows), "verdict": line, "drift": tone == "bad",
               "out_of_range_rows": int(out_of_range.any(axis=1).sum()), "far_outside_rows": int(far.any(axis=1).sum()),
               "inputs": [s.to_json() for s in ins], "outputs": [s.to_json() for s in outs]}
    report = Report(f"Drift: {Path(run_dir).resolve().name}", "drift", str(run_dir), subtitle=live.source)
    report.sections.append(Section("Verdict").add(
        Text(line, tone),
        Facts([("live rows", len(in_rows)), ("reference inputs", profile["source"].get("inputs")),
               ("reference predictions", profile["source"].get("outputs")),
               ("rows with a value outside the training range", _share(out_of_range.any(axis=1))),
               (f"rows far outside it (beyond {far_std:g} training stds)", _share(far.any(axis=1))),
               ("drifted when", f"PSI >= {thresholds.psi:g} and p-value < {thresholds.pvalue:g} "
                                f"(scored from {thresholds.min_rows} rows)")])))
    report.sections.append(_part("Input features", in_refs, ins, in_rows, in_ex))
    if out_refs:
        report.sections.append(_part("Predictions", out_refs, outs, out_rows, out_ex))
    return report, summary


def _share(mask: np.ndarray) -> str:
    return f"{int(mask.sum())} of {len(mask)} ({100 * mask.mean() if len(mask) else 0:.1f} %)"


def _part(title: str, refs: list[FeatureRef], scores: list[Score], rows: np.ndarray, ex: Extractor) -> Section:
    order = sorted(range(len(scores)), key=lambda j: -(scores[j].psi if scores[j].psi is not None else -1))
    table = Table(["feature", "PSI", "test", "statistic", "p-value", "Wasserstein (stds)", "out of range", "drifted"],
                  [[scores[j].feature, fmt(scores[j].psi), scores[j].test or "—", fmt(scores[j].statistic),
                    fmt(scores[j].pvalue), fmt(scores[j].wasserstein), f"{100 * scores[j].out_of_range:.1f} %",
                    "DRIFT" if scores[j].drifted else ("no" if scores[j].psi is not None else "too few rows")]
                   for j in order], caption="Most shifted first.")
    shown = order[:PLOTS]
    caption = (f"Reference (training) vs live distribution of the {len(shown)} most shifted of {len(order)} features."
               if len(order) > len(shown) else "Reference (training) vs live distribution of each feature.")
    return Section(title).add(table, _plots([refs[j] for j in shown], [rows[:, j] for j in shown],
                                            [scores[j] for j in shown], title, caption))


def _plots(refs: list[FeatureRef], values: list[np.ndarray], scores: list[Score], title: str, caption: str):
    from dlbench.report.figures import TRAIN, VAL, new, to_figure

    cols = min(3, len(refs)) or 1
    nrows = (len(refs) + cols - 1) // cols or 1
    fig, axes = new(3.3 * cols, 2.5 * nrows, ncols=cols, nrows=nrows)
    for ax in axes.flat[len(refs):]:
        ax.set_visible(False)
    for ax, ref, v, s in zip(axes.flat, refs, values, scores):
        if ref.kind == "categorical":
            labels = [*ref.categories, "unseen"]
            live = np.bincount(np.clip(v, 0, len(ref.categories)).astype(int), minlength=len(labels)) / max(len(v), 1)
            x = np.arange(len(labels))
            ax.bar(x - 0.2, ref.proportions, 0.4, color=TRAIN, label="reference")
            ax.bar(x + 0.2, live, 0.4, color=VAL, label="live")
            ax.set_xticks(x, [lab[:10] for lab in labels], rotation=45 if len(labels) > 4 else 0, fontsize=7)
        else:
            lo, hi = min(ref.sample.min(), v.min(initial=np.inf)), max(ref.sample.max(), v.max(initial=-np.inf))
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(ref.sample, bins=bins, density=True, alpha=0.55, color=TRAIN, label="reference")
            if len(v):
                ax.hist(v, bins=bins, density=True, alpha=0.55, color=VAL, label="live")
        psi = "—" if s.psi is None else f"{s.psi:.3g}"
        ax.set_title(f"{ref.name[:28]}  PSI {psi}{'  DRIFT' if s.drifted else ''}", fontsize=8,
                     color="#b00" if s.drifted else "#222")
        ax.legend()
    return to_figure(fig, f"{title}: reference vs live histograms", caption)
