"""`load_run` across every registered family: a tiny run of each (every data task it takes, from the table of
tests/integration/test_every_recipe.py) loads through its own recipe, in eval mode on the CPU, with the codec of
its stored preprocessing and exactly the weights of model.safetensors; a damaged run directory is refused in one
line that names the damaged file. Parametrised over the registry, so a new family is covered once it is
registered (and has an example in that table)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import dlbench
from dlbench.codecs import CODECS
from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES
from dlbench.run.load import load_run
from dlbench.run.loaded import LoadedRun
from dlbench.tasks import TASKS
from tests.integration.test_every_recipe import EXAMPLES

TRAIN = {"steps": 6, "batch_size": 16, "eval_every": 3, "log_every": 3, "checkpoint_every": 6,
         "eval_train_samples": 32, "threads": 1}
CASES = [(family, i) for family in RECIPES for i in range(len(EXAMPLES.get(family, [None])))]
IDS = [f"{f}-{i}" for f, i in CASES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """family, i -> the directory of a finished tiny run, trained on first use and shared by the module."""
    root, made = tmp_path_factory.mktemp("families"), {}

    def get(family: str, i: int = 0) -> Path:
        if family not in EXAMPLES:
            pytest.fail(f"family {family} has no tiny example in tests/integration/test_every_recipe.py EXAMPLES")
        if (family, i) not in made:
            data, model = EXAMPLES[family][i]
            d = root / f"{family}-{i}"
            dlbench.train({"data": data, "model": model, "train": TRAIN, "name": f"load-{family}-{i}"}, run_dir=d)
            made[family, i] = d
        return made[family, i]

    return get


def _hashes(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("family,i", CASES, ids=IDS)
def test_load_run_gives_the_familys_model_codec_and_weights(runs, family, i):
    d = runs(family, i)
    before = _hashes(d)
    info = json.loads((d / "model.json").read_text())
    loaded = load_run(d)

    assert isinstance(loaded, LoadedRun) and loaded.path == d and loaded.name == d.name
    assert loaded.recipe is RECIPES[family]
    assert loaded.info["family"] == family == loaded.config.model.name
    assert loaded.spec == DataSpec.from_json(info["spec"])
    if loaded.recipe.run_task(loaded.spec) in TASKS:  # a supervised family: the data's task
        assert isinstance(loaded.task, TASKS[loaded.spec.task])

    # in eval mode (every submodule: dropout and batch norm behave as at inference) and on the CPU
    assert loaded.device == torch.device("cpu")
    assert not loaded.model.training and not any(m.training for m in loaded.model.modules())
    tensors = [*loaded.model.parameters(), *loaded.model.buffers()]
    assert tensors and all(t.device.type == "cpu" for t in tensors)

    # the codec of the stored preprocessing
    kind = info["preprocessing"]["kind"]
    assert loaded.preprocessing == info["preprocessing"]
    assert loaded.codec.kind == kind and type(loaded.codec) is CODECS[kind]

    # exactly the weights of model.safetensors
    stored, state = load_file(str(d / "model.safetensors")), loaded.model.state_dict()
    assert set(stored) == set(state)
    for k, v in stored.items():
        assert state[k].dtype == v.dtype and torch.equal(state[k].cpu(), v), k

    assert _hashes(d) == before, "loading a run writes nothing into it"


@pytest.mark.parametrize("family", list(RECIPES))
def test_load_run_on_an_explicit_cpu_device(runs, family):
    loaded = load_run(runs(family), device="cpu")
    assert loaded.device == torch.device("cpu") and not loaded.model.training


# --- damaged run directories --------------------------------------------------------------------------

def _flip_one_byte(d: Path) -> None:
    p = d / "model.safetensors"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def _flip_last_byte(d: Path) -> None:
    p = d / "model.safetensors"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0x80
    p.write_bytes(bytes(data))


DAMAGE = {
    "weights-one-byte-changed": (_flip_one_byte, "model.safetensors"),
    "weights-last-byte-changed": (_flip_last_byte, "model.safetensors"),
    "weights-missing": (lambda d: (d / "model.safetensors").unlink(), "model.safetensors"),
    "weights-truncated": (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:-9]),
                          "model.safetensors"),
    "model-json-not-json": (lambda d: (d / "model.json").write_text("{this is not json"), "model.json"),
    "model-json-truncated": (lambda d: (d / "model.json").write_text((d / "model.json").read_text()[:40]),
                             "model.json"),
    "model-json-not-utf8": (lambda d: (d / "model.json").write_bytes(b"\xff\xfe{\x00"), "model.json"),
    "model-json-empty": (lambda d: (d / "model.json").write_text(""), "model.json"),
    "model-json-a-list": (lambda d: (d / "model.json").write_text("[1, 2]"), "model.json"),
    "model-json-a-string": (lambda d: (d / "model.json").write_text('"model"'), "model.json"),
    "model-json-missing": (lambda d: (d / "model.json").unlink(), "model.json"),
}


@pytest.mark.parametrize("family", list(RECIPES))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_run_is_refused_in_one_line_naming_the_file(runs, tmp_path, family, damage):
    d = tmp_path / "damaged"
    shutil.copytree(runs(family), d)
    spoil, name = DAMAGE[damage]
    spoil(d)
    with pytest.raises(UserError) as e:
        load_run(d)
    line = e.value.line()
    assert "\n" not in line and name in line, line
    assert str(d) in line, "the message says which run directory"


def test_a_missing_run_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_run(tmp_path / "nope")
