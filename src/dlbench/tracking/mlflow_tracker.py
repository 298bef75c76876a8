"""MLflow: parameters, metrics per step, the run directory as artifacts and the model (safetensors + model.json).

The default tracking URI keeps everything in a local `mlruns/` folder (an SQLite database and the artifacts
beside it: MLflow's file store is deprecated); any other URI (`http://mlflow:5000`, `postgresql://...`)
is used as it is. The model is logged as the run's own files: MLflow's pytorch flavour would pickle it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from dlbench.tracking import flat, scalars

LOCAL_PREFIX = "sqlite:///"


class MLflowTracker:
    name = "MLflow"

    def __init__(self, uri: str, experiment: str, run_name: str):
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its schema set-up lines are not ours to print
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        if uri.startswith(LOCAL_PREFIX):
            Path(uri[len(LOCAL_PREFIX):]).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            artifacts = None
            if uri.startswith(LOCAL_PREFIX):  # artifacts beside the database, in the same local folder
                artifacts = str(Path(uri[len(LOCAL_PREFIX):]).parent.resolve() / "artifacts")
            exp_id = self.client.create_experiment(experiment, artifact_location=artifacts)
        else:
            exp_id = exp.experiment_id
        self.run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        self.uri = uri

    def start(self, config: dict) -> None:
        params = flat(config)
        for i in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
            chunk = list(params.items())[i:i + 100]
            self.client.log_batch(self.run_id, params=[mlflow.entities.Param(k, str(v)[:6000]) for k, v in chunk])

    def log(self, record: dict) -> None:
        step = int(record.get("step", 0))
        metrics = [mlflow.entities.Metric(k, v, 0, step) for k, v in scalars(record).items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, run_path: Path, result: dict | None) -> None:
        for split in ("val", "test"):
            for key, value in scalars((result or {}).get(split) or {}, f"final/{split}.").items():
                self.client.log_metric(self.run_id, key, value)
        for f in sorted(run_path.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                self.client.log_artifact(self.run_id, str(f), "run" if f.name not in MODEL_FILES else "model")
        for sub in ("samples",):
            if (run_path / sub).is_dir():
                self.client.log_artifacts(self.run_id, str(run_path / sub), f"run/{sub}")
        self.client.set_terminated(self.run_id, "FINISHED" if result is not None else "FAILED")


MODEL_FILES = ("model.safetensors", "model.json")
