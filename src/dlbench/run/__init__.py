"""The run directory: the one contract between stages (see DESIGN.md)."""
from dlbench.run.rundir import RunDir, load_model_json, new_run_dir

__all__ = ["RunDir", "load_model_json", "new_run_dir"]
