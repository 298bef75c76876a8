"""The run directory: the one contract between stages (see DESIGN.md)."""
from dlbench.run.rundir import RunDir, load_model, load_model_json, plan_run_dir

__all__ = ["RunDir", "load_model", "load_model_json", "plan_run_dir"]
