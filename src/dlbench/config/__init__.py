"""Typed configuration: schema (pydantic), YAML loading and dotted overrides.

Names are resolved lazily: the schema imports every data kind and model family (to build its tagged
unions), and those import `dlbench.config.base`; an eager import here would make that a cycle.
"""
from dlbench.config.load import apply_overrides, dump_config, load_config, parse_config

__all__ = ["Config", "OptimConfig", "TrainConfig", "EarlyStopping", "load_config", "parse_config",
           "apply_overrides", "dump_config"]


def __getattr__(name):
    if name in ("Config", "OptimConfig", "TrainConfig", "EarlyStopping"):
        from dlbench.config import schema

        return getattr(schema, name)
    raise AttributeError(name)
