"""TensorBoard and MLflow trackers, read back with each library's own reader."""
from pathlib import Path

import pytest

from dlbench.schema import parse_config
from dlbench.tracking import Trackers

RECORDS = [{"step": 10, "kind": "train", "train.loss": 1.5, "lr": 1e-3},
           {"step": 20, "kind": "train", "train.loss": 0.9, "lr": 1e-3},
           {"step": 20, "kind": "eval", "val.loss": 1.0, "val.accuracy": 0.7}]
RESULT = {"val": {"accuracy": 0.71, "loss": 0.99, "per_class": {}}, "test": {"accuracy": 0.69}}


def config(**tracking):
    return parse_config({"data": {"kind": "digits"}, "model": {"name": "mlp"}, "name": "t1", "tracking": tracking})


def feed(cfg, run: Path):
    run.mkdir(parents=True, exist_ok=True)
    (run / "model.safetensors").write_bytes(b"x")
    (run / "model.json").write_text("{}")
    (run / "result.json").write_text("{}")
    t = Trackers(cfg, run)
    for r in RECORDS:
        t.log(r)
    t.finish(run, RESULT)
    return t


def test_off_by_default(tmp_path):
    t = feed(config(), tmp_path / "r")
    assert not t and not t.trackers and not (tmp_path / "r" / "tensorboard").exists()


def test_tensorboard_event_files(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    feed(config(tensorboard=True), tmp_path / "r")
    acc = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    acc.Reload()
    loss = acc.Scalars("train/train.loss")
    assert [(e.step, round(e.value, 3)) for e in loss] == [(10, 1.5), (20, 0.9)]
    assert acc.Scalars("eval/val.accuracy")[0].value == pytest.approx(0.7)
    assert acc.Scalars("final/test.accuracy")[0].value == pytest.approx(0.69)


def test_mlflow_params_metrics_artifacts_and_model(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    feed(config(mlflow=True), tmp_path / "r")
    client = MlflowClient("sqlite:///mlruns/mlflow.db")
    exp = client.get_experiment_by_name("t1")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.params["model.name"] == "mlp" and run.data.params["optim.lr"] == "0.001"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/train.loss")] == [(10, 1.5), (20, 0.9)]
    assert run.data.metrics["final/test.accuracy"] == pytest.approx(0.69)
    assert {f.path for f in client.list_artifacts(run.info.run_id, "model")} == {"model/model.json", "model/model.safetensors"}
    assert "run/result.json" in {f.path for f in client.list_artifacts(run.info.run_id, "run")}
    assert run.info.status == "FINISHED" and run.info.run_name == "r"


def test_a_failing_tracker_never_stops_the_run(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    cfg = config(mlflow=True, tensorboard=True, mlflow_uri="http://127.0.0.1:9/")  # nothing listens on port 9
    t = feed(cfg, tmp_path / "r")
    assert [x.name for x in t.trackers] == ["TensorBoard"]
    assert "MLflow tracking turned off" in caplog.text
