"""Configuration building blocks: the `Section` base, the shared optim/train sections, YAML reading and
dotted overrides. The full run schema, which knows every data kind and family, is `dlbench.schema`."""
from dlbench.config.load import apply_overrides, dump_config, read_yaml, resolve_config_path

__all__ = ["apply_overrides", "dump_config", "read_yaml", "resolve_config_path"]
