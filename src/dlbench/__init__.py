"""dlbench: choose, train, validate, benchmark, tune and deploy deep-learning models on your hardware."""
__version__ = "0.1.0"

__all__ = ["train", "evaluate", "predict", "load_config", "UserError", "__version__"]


def __getattr__(name):  # keep `import dlbench` light: torch loads only when a function is used
    if name in ("train", "evaluate", "RunResult"):
        from dlbench import api

        return getattr(api, name)
    if name == "predict":
        from dlbench.prediction import predict

        return predict
    if name == "load_config":
        from dlbench.schema import load_config

        return load_config
    if name == "UserError":
        from dlbench.errors import UserError

        return UserError
    raise AttributeError(name)
