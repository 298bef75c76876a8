"""Open Inference Protocol (v2) server: predictor interface, auth, batching, metrics."""

from dlbench.serve.predictor import Predictor, TensorSpec
from dlbench.serve.settings import ServeSettings

__all__ = ["Predictor", "ServeSettings", "TensorSpec", "create_app", "run_server"]


def __getattr__(name: str):
    # Imported lazily: `from dlbench.serve import TensorSpec` (what predictors need) must not pull
    # in FastAPI and uvicorn.
    if name == "create_app":
        from dlbench.serve.app import create_app

        return create_app
    if name == "run_server":
        from dlbench.serve.server import run_server

        return run_server
    raise AttributeError(name)
