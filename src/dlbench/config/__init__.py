"""Typed configuration: schema (pydantic), YAML loading and dotted overrides."""
from dlbench.config.load import load_config, parse_config, apply_overrides, dump_config
from dlbench.config.schema import Config, OptimConfig, TrainConfig, EarlyStopping

__all__ = ["Config", "OptimConfig", "TrainConfig", "EarlyStopping", "load_config", "parse_config",
           "apply_overrides", "dump_config"]
