"""Study reports read the Optuna storage; without it they fall back to trials.csv and say so."""
from __future__ import annotations

import pytest

from dlbench.errors import UserError
from dlbench.report import build_report, detect_kind
from dlbench.report.document import Absent, Facts, Figure, Pre, Table
from tests.unit.report.fixtures import make_study


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("studies"))


def section(report, title):
    return next(s for s in report.sections if s.title == title)


def test_study_report(study_dir):
    assert detect_kind(study_dir) == "study"
    r = build_report(study_dir)
    assert r.title == "Study cnn-sweep" and not r.warnings
    facts = dict(section(r, "Summary").blocks[0].items)
    assert facts["objective"] == "val.accuracy" and facts["trials"] == 10
    assert facts["complete trials"] + facts.get("pruned trials", 0) == 10 and facts.get("pruned trials", 0) >= 1
    for title in ("Optimization history", "Parameter importances"):
        fig = section(r, title).blocks[0]
        assert isinstance(fig, Figure), (title, fig)
    shapes = [b for b in section(r, "Parameters vs objective").blocks]
    assert all(isinstance(b, Figure) for b in shapes) and len(shapes) == 2
    pruning = section(r, "Pruned vs complete trials").blocks
    states = {row[0]: row[1] for row in pruning[0].rows}
    assert states["pruned"] == facts["pruned trials"] and isinstance(pruning[-1], Figure)
    trials = section(r, "Trials").blocks[0]
    assert len(trials.rows) == 10 and "optim.lr" in trials.columns
    best = section(r, "Best config").blocks
    assert isinstance(best[0], Table) and any(isinstance(b, Pre) and "cnn-sweep-best" in b.text for b in best)
    final = section(r, "Final model").blocks
    assert isinstance(final[0], Facts) and final[1].columns == ["metric", "validation", "test"]


def test_study_with_one_trial_says_what_is_missing(tmp_path):
    d = make_study(tmp_path, "young", trials=1)
    r = build_report(d)
    imp = section(r, "Parameter importances").blocks[0]
    assert isinstance(imp, Absent) and "at least two completed trials" in imp.why


def test_trials_csv_only(study_dir, tmp_path):
    import shutil

    d = tmp_path / "copied"
    d.mkdir()
    shutil.copy(study_dir / "trials.csv", d)
    r = build_report(d)
    assert any("trials.csv only" in w for w in r.warnings)
    assert isinstance(section(r, "Optimization history").blocks[0], Figure)
    assert any(isinstance(b, Absent) and b.what == "study database" for b in section(r, "Summary").blocks)
    assert isinstance(section(r, "Best config").blocks[0], Absent)


def test_unreadable_storage_without_csv(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "study.db").write_text("not sqlite")
    with pytest.raises(UserError, match="neither the study storage nor trials.csv"):
        build_report(d)
