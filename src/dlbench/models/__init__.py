"""Model families: one file each (config + module), wired by models.registry."""
from dlbench.models.registry import MODELS, build_model

__all__ = ["MODELS", "build_model"]
