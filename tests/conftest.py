"""Shared test helpers: tiny configs and an in-process CLI runner."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent


def tiny(kind: str = "mnist1d", model: str = "cnn", **train) -> dict:
    """A config dict that trains in about a second."""
    data = {"mnist1d": {"kind": "mnist1d", "num_samples": 600},
            "digits": {"kind": "digits"}, "diabetes": {"kind": "diabetes"}}[kind]
    models = {"cnn": {"name": "cnn", "stages": [{"channels": 8, "kernel": 3, "stride": 2}]},
              "mlp": {"name": "mlp", "hidden": [32]},
              "rnn": {"name": "rnn", "cell": "gru", "hidden_size": 8}}
    t = {"steps": 40, "batch_size": 32, "eval_every": 20, "log_every": 10, "checkpoint_every": 20,
         "eval_train_samples": 200}
    t.update(train)
    if model == "mlp" and kind != "diabetes":
        data["flatten"] = True
    return {"data": data, "model": models[model], "optim": {"lr": 3e-3}, "train": t, "name": f"tiny-{kind}-{model}"}


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run `dlbench ARGS` in this process; return (exit code, stdout, stderr)."""
    from dlbench.cli import main

    def _run(*args: str, stdin: str | None = None):
        monkeypatch.setattr(sys, "argv", ["dlbench", *map(str, args)])
        if stdin is not None:
            import io

            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return _run


@pytest.fixture
def write_yaml(tmp_path):
    import yaml

    def _write(cfg: dict, name: str = "cfg.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(cfg))
        return p

    return _write


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One tiny finished MNIST-1D CNN run, shared by the tests that only read it."""
    import dlbench

    d = tmp_path_factory.mktemp("runs") / "m1"
    dlbench.train(tiny(), run_dir=d)
    return d
