"""`dlbench train ... -o tracking.tensorboard=true -o tracking.mlflow=true`: what a run logs is read back with
TensorBoard's and MLflow's own readers."""
import json

from tests.conftest import tiny


def test_train_logs_to_tensorboard_and_mlflow(run_cli, write_yaml, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    cfg = write_yaml(tiny("digits", "mlp", steps=20, eval_every=10))
    code, out, err = run_cli("train", cfg, "--run-dir", tmp_path / "run", "-o", "tracking.tensorboard=true",
                             "-o", "tracking.mlflow=true", "-q")
    assert code == 0, err
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/train.loss")] == [r["step"] for r in logged if r["kind"] == "train"]
    assert [e.step for e in acc.Scalars("eval/val.accuracy")] == [10, 20]
    assert [e.step for e in acc.Scalars("eval/train.loss")] == [10, 20]  # the train-subset evaluation, apart
    client = MlflowClient("sqlite:///mlruns/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("tiny-digits-mlp").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["model.name"] == "mlp"
    history = client.get_metric_history(run.info.run_id, "eval/val.accuracy")
    assert [m.step for m in history] == [10, 20]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert run.data.metrics["final/test.accuracy"] == result["test"]["accuracy"]
    models = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert models == {"model/model.safetensors", "model/model.json"}  # the model, as safetensors: never a pickle
