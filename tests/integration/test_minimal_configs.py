"""A config that names only the data and the family reaches a stated fraction of the tuned shipped config's score.

The fast cases of bench/minimal_configs.py (its table of every family x data kind; the slow ones, translation,
text classification and GANs, run there with --all and are recorded in bench/RESULTS.md), against the shipped
configs' measured test scores quoted from their headers.
"""
from __future__ import annotations

import importlib.util
import sys

import pytest

from dlbench.config.load import resolve_config_path
from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("minimal_configs", REPO / "bench" / "minimal_configs.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("minimal_configs", bench)  # dataclasses look their module up there
_spec.loader.exec_module(bench)

FAST = [c for c in bench.CASES if not c.slow and c.name in bench.SHIPPED]


def test_the_fast_cases_cover_every_cheap_family_and_data_kind():
    assert {c.family for c in FAST} >= {"mlp", "cnn"}
    assert {c.data["kind"] for c in FAST} >= {"diabetes", "csv", "digits"}
    assert {c.family for c in bench.CASES} == {"mlp", "cnn", "rnn", "transformer", "gan"}


@pytest.mark.parametrize("case", [c.name for c in bench.CASES if c.name in bench.SHIPPED])
def test_the_shipped_score_is_the_one_in_the_config_header(case):
    c = next(c for c in bench.CASES if c.name == case)
    quote, value = bench.SHIPPED[case]
    header = resolve_config_path(c.shipped).read_text().split("\ndata:")[0]
    assert quote in header and f"{value:g}" in quote


@pytest.mark.parametrize("case", [c.name for c in FAST] + ["image-folder-cnn"])
def test_a_minimal_config_gets_a_good_model(case, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the cases name the example CSVs as configs/data/..., as from a checkout
    c = next(c for c in bench.CASES if c.name == case)
    result, _ = bench.train(c.config(tmp_path), tmp_path / "run")
    mine = bench.score(result, c.metric)
    ref = bench.SHIPPED[c.shipped if c.shipped in bench.SHIPPED else c.name][1]
    assert bench.ratio(c.metric, mine, ref) >= bench.FRACTION[c.metric], \
        f"{case}: minimal test {c.metric} {mine:.4f} vs shipped {ref} (needs {bench.FRACTION[c.metric]} of it)"
    if case == "image-folder-cnn":
        assert mine >= 0.95  # the target for a new user's folder of digit PNGs
