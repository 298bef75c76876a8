"""The reference profile: summaries, and the file hashed through model.json (an edited profile is refused)."""
import json

import numpy as np
import pytest

from dlbench.errors import UserError
from dlbench.monitor.features import Feature, OutputFeatures
from dlbench.monitor.profile import FILE, build_profile, load_profile, parse_features, save_profile, summarize


class Two:
    features = [Feature("a"), Feature("b", "categorical", ("u", "v"))]
    names = ["a", "b"]


def profile():
    rng = np.random.default_rng(0)
    rows = np.stack([rng.normal(0, 1, 2000), rng.integers(0, 2, 2000)], axis=1).astype(float)
    out = OutputFeatures(["probabilities"])
    return build_profile(Two(), rows, out, rng.uniform(0.5, 1, (300, 1)), {"inputs": "test"})


def test_numeric_summary_has_deciles_equal_shares_and_a_bounded_sample():
    d = summarize(Feature("x"), np.arange(10_000, dtype=float), np.random.default_rng(0))
    assert len(d["edges"]) == 11 and np.allclose(d["proportions"][1:-1], 0.1, atol=1e-3)
    assert d["proportions"][0] == d["proportions"][-1] == pytest.approx(1 / 10_001, rel=0.01)  # beyond min / max
    assert d["min"] == 0 and d["max"] == 9999 and len(d["sample"]) == 400
    assert d["quantiles"]["0.5"] == pytest.approx(4999.5)


def test_profile_round_trips_through_its_sha256(tmp_path):
    p = profile()
    record = save_profile(tmp_path, p)
    assert record["file"] == FILE and len(record["sha256"]) == 64
    back = load_profile(tmp_path, {"reference_profile": record})
    assert back == json.loads(json.dumps(p))
    refs = parse_features(back, "inputs", ["a", "b"], "here")
    assert refs[1].kind == "categorical" and refs[1].categories == ("u", "v")
    assert [r.name for r in parse_features(back, "outputs", ["confidence"], "here")] == ["confidence"]


def test_a_run_without_a_profile_gives_none(tmp_path):
    assert load_profile(tmp_path, {"format": "dlbench-model/2"}) is None


@pytest.mark.parametrize("damage", ["edit", "delete", "record"])
def test_a_damaged_profile_is_refused_naming_the_file(tmp_path, damage):
    record = save_profile(tmp_path, profile())
    f = tmp_path / FILE
    if damage == "edit":
        f.write_text(f.read_text().replace('"count":2000', '"count":2001', 1))
    elif damage == "delete":
        f.unlink()
    else:
        record = {"file": "../model.json", "sha256": record["sha256"]}
    with pytest.raises(UserError) as e:
        load_profile(tmp_path, {"reference_profile": record})
    assert "reference_profile" in str(e.value) or FILE in str(e.value)


def test_features_that_do_not_match_the_model_are_refused(tmp_path):
    back = load_profile(tmp_path, {"reference_profile": save_profile(tmp_path, profile())})
    with pytest.raises(UserError, match="retrain"):
        parse_features(back, "inputs", ["a", "c"], "here")
