"""Run reports: what each kind of run shows, and what a partial run says is missing."""
from __future__ import annotations

import json
import shutil

import pytest

from dlbench.errors import UserError
from dlbench.report import build_report, detect_kind, write_report
from dlbench.report.document import Absent, Columns, Figure, Pre, Table, Text
from tests.conftest import tiny
from tests.unit.report.fixtures import make_gan_run, make_translation_run


def blocks(report, title=None):
    out = []
    for s in report.sections:
        if title is None or s.title == title:
            for b in s.blocks:
                out += [b, *b.left, *b.right] if isinstance(b, Columns) else [b]
    return out


def section(report, title):
    return next(s for s in report.sections if s.title == title)


@pytest.fixture(scope="module")
def reg_run(tmp_path_factory):
    import dlbench

    d = tmp_path_factory.mktemp("runs") / "reg"
    dlbench.train(tiny("diabetes", "mlp", steps=30, eval_every=10), run_dir=d)
    return d


def test_classifier_report(trained_run):
    r = build_report(trained_run)
    assert r.kind == "run" and not r.warnings
    titles = [s.title for s in r.sections]
    assert titles[:4] == ["Summary", "Learning curves and diagnosis", "Learning-rate schedule",
                          "Confusion matrix and per-class results"]
    # the diagnosis sits beside the curves it is read from, in words, with its evidence
    cols = section(r, "Learning curves and diagnosis").blocks[0]
    assert isinstance(cols, Columns) and any(isinstance(b, Figure) for b in cols.left)
    result = json.loads((trained_run / "result.json").read_text())
    texts = " ".join(b.text for b in cols.right if isinstance(b, Text))
    assert result["diagnosis"]["verdict"] in texts and result["diagnosis"]["reason"] in texts
    cm = section(r, "Confusion matrix and per-class results").blocks
    assert isinstance(cm[0], Figure) and cm[0].uri.startswith("data:image/png;base64,")
    per_class = next(b for b in cm if isinstance(b, Table))
    assert [row[0] for row in per_class.rows] == [str(i) for i in range(10)]
    assert isinstance(section(r, "Learning-rate schedule").blocks[0], Figure)
    assert any(isinstance(b, Pre) and "kind: mnist1d" in b.text for b in blocks(r, "Configuration"))
    env = " ".join(str(v) for b in blocks(r, "Hardware, timings and versions") if hasattr(b, "items")
                   for _, v in b.items)
    assert "cpu" in env and result["versions"]["torch"] in env


def test_regression_predictions_use_validation_only(reg_run, monkeypatch):
    from dlbench.data.bundle import DataBundle

    def sealed(self, purpose):
        raise AssertionError(f"the report opened the test split ({purpose})")

    monkeypatch.setattr(DataBundle, "open_test", sealed)
    r = build_report(reg_run)
    sec = section(r, "Predictions vs truth (validation)")
    figs = [b for b in sec.blocks if isinstance(b, Figure)]
    assert len(figs) == 2 and "R²" in figs[0].caption
    # the R² the report computes from validation predictions is the run's own validation R²
    r2_val = json.loads((reg_run / "result.json").read_text())["val"]["r2"]
    assert f"R² {r2_val:.3f}" in figs[0].caption
    mae = next(b for b in sec.blocks if isinstance(b, Table))
    assert mae.rows[0][1] == pytest.approx(json.loads((reg_run / "result.json").read_text())["val"]["mae"], rel=1e-4)


def test_unfinished_run_is_a_partial_report(trained_run, tmp_path):
    d = tmp_path / "partial"
    d.mkdir()
    shutil.copy(trained_run / "config.yaml", d)
    lines = (trained_run / "metrics.jsonl").read_text().splitlines()
    (d / "metrics.jsonl").write_text("\n".join(lines[:4]) + '\n{"step": 99, "kind": "tr')  # cut mid-line by a crash
    path, r = write_report(d)
    assert path == d / "report.html" and path.is_file()
    assert len(r.warnings) == 1 and "not finished" in r.warnings[0]
    absent = [b.what for b in blocks(r) if isinstance(b, Absent)]
    assert "final validation and test metrics" in absent and "confusion matrix" in absent
    diag = [b.text for b in blocks(r, "Learning curves and diagnosis") if isinstance(b, Text)]
    assert any("provisional" in t for t in diag)


def test_translation_run_shows_samples_with_bleu(tmp_path):
    r = build_report(make_translation_run(tmp_path))
    sec = section(r, "Sample translations")
    assert "BLEU 25" in sec.blocks[0].text and "chrF 45" in sec.blocks[0].text
    table = next(b for b in sec.blocks if isinstance(b, Table))
    assert table.columns == ["source", "reference", "hypothesis", "sentence BLEU"]
    assert table.rows[0][3] == 100.0 and table.rows[1][3] < 100
    html = (write_report(tmp_path / "t1")[0]).read_text()
    assert "forty &lt;b&gt;two&lt;/b&gt;" in html and "<b>two</b>" not in html  # autoescaped


def test_gan_run_embeds_sample_grids(tmp_path):
    r = build_report(make_gan_run(tmp_path))
    sec = section(r, "Generated samples")
    figs = [b for b in sec.blocks if isinstance(b, Figure)]
    assert [f.caption for f in figs] == ["step-10.png", "step-20.png"] and figs[0].width == 40
    assert any(isinstance(b, Absent) and b.what == "broken.png" for b in sec.blocks)
    assert "classifier_fd 3.5" in sec.blocks[0].text
    curves = section(r, "Learning curves and diagnosis").blocks[0].left
    assert "d_loss and g_loss" in curves[0].alt
    assert "GAN" in next(b for b in section(r, "Learning-rate schedule").blocks if isinstance(b, Absent)).why


def test_not_a_report_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        detect_kind(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(UserError, match="is a file"):
        detect_kind(tmp_path / "x.txt")
    with pytest.raises(UserError, match="not a run, study or benchmark"):
        detect_kind(tmp_path)
