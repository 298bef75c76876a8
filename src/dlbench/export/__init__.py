"""`dlbench export`: a finished run as ONNX (checked in onnxruntime) or safetensors + JSON."""
from dlbench.export.formats import export_run

__all__ = ["export_run"]
