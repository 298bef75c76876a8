"""Every registered family trains, saves, loads, evaluates, predicts (or generates), serves and profiles a tiny
run, through its recipe. Parametrised over the registry: a new family is tested the moment it is registered
(and fails here until it has an example below)."""
from __future__ import annotations

import numpy as np
import pytest

import dlbench
from dlbench.recipes.registry import RECIPES, get_recipe
from dlbench.run.load import load_run
from dlbench.serve.runs import load_predictor

TRAIN = {"steps": 12, "batch_size": 16, "eval_every": 6, "log_every": 6, "checkpoint_every": 6,
         "eval_train_samples": 64, "threads": 1}
EXAMPLES = {  # family -> (data, model) of a tiny run; one per data task it accepts
    "mlp": [({"kind": "diabetes"}, {"name": "mlp", "hidden": [16]}),
            ({"kind": "digits", "flatten": True}, {"name": "mlp", "hidden": [16]})],
    "cnn": [({"kind": "digits"}, {"name": "cnn", "stages": [{"channels": 4, "kernel": 3}]})],
    "rnn": [({"kind": "mnist1d", "num_samples": 300}, {"name": "rnn", "hidden_size": 8}),
            ({"kind": "numbers", "train_size": 200, "tokenizer": {"type": "word"}},
             {"name": "rnn", "embedding_dim": 8, "hidden_size": 8, "decode": {"bleu_samples": 8}}),
            ({"kind": "numbers-language", "size": 300}, {"name": "rnn", "embedding_dim": 8, "hidden_size": 8}),
            ({"kind": "corpus", "builtin": "pydoc-topics", "context": 16}, {"name": "rnn", "embedding_dim": 8,
                                                                           "hidden_size": 8})],
    "transformer": [({"kind": "numbers", "train_size": 200, "tokenizer": {"type": "word"}},
                     {"name": "transformer", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                      "decode": {"bleu_samples": 8}}),
                    ({"kind": "corpus", "builtin": "pydoc-topics", "context": 16},
                     {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1})],
    "gan": [({"kind": "digits"}, {"name": "gan", "conditional": True, "width": 8, "eval_samples": 50,
                                  "reference": {"steps": 10, "features": 8}})],
}
CASES = [(family, i) for family in RECIPES for i in range(len(EXAMPLES.get(family, [None])))]


def test_every_family_has_an_example():
    assert set(EXAMPLES) == set(RECIPES), "add a tiny example of the new family to EXAMPLES"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {}


@pytest.mark.parametrize("family,i", CASES, ids=[f"{f}-{i}" for f, i in CASES])
def test_family_end_to_end(family, i, tmp_path):
    data, model = EXAMPLES[family][i]
    cfg = {"data": data, "model": model, "train": TRAIN, "name": f"every-{family}-{i}"}
    res = dlbench.train(cfg, run_dir=tmp_path / "run")
    recipe = get_recipe(family)
    assert res.result["model"] == family and res.result["test"] is not None

    loaded = load_run(res.run_dir)
    assert loaded.recipe is recipe and loaded.info["family"] == family
    val = dlbench.evaluate(res.run_dir)  # validation by default: the test split stays sealed
    selection = recipe.selection_metric(loaded.spec.task)[4:]
    assert isinstance(val[selection], float)
    assert recipe.direction(f"val.{selection}") in ("min", "max")

    predictor = load_predictor(res.run_dir)
    specs = predictor.inputs()
    request = _request(loaded, specs)
    out = predictor.predict(request, {})
    assert set(out) <= {s.name for s in predictor.outputs()} and out

    from dlbench.bench.profile import profile

    prof = profile(cfg, ["train.batch_size=8"], steps=2, warmup=1)
    assert prof["measurements"]["samples_per_s"] > 0


def _request(loaded, specs) -> dict:
    """A small valid request for the predictor's inputs."""
    if {s.name for s in specs} >= {"count"}:
        return {"count": np.array([3], dtype=np.int64)}
    if {s.name for s in specs} >= {"text_input"}:  # a language model: prompts to continue
        return {"text_input": np.array([b"The ", b"def "], dtype=object)}
    from dlbench.data.registry import build_data

    val = build_data(loaded.config.data).val
    return {k: v[:3] for k, v in loaded.codec.requests(val).items()}


def test_a_family_that_does_not_fit_its_data_names_those_that_do(tmp_path):
    from dlbench.errors import UserError

    with pytest.raises(UserError) as e:
        dlbench.train({"data": {"kind": "digits"}, "model": {"name": "transformer"}, "train": TRAIN},
                      run_dir=tmp_path / "r")
    line = e.value.line()
    assert "model transformer does not fit this classification data" in line
    assert "mlp" in line and "cnn" in line and "gan" in line
