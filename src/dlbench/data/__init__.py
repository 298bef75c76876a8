"""Datasets: each kind builds a DataBundle(train, val, test, spec) offline."""
from dlbench.data.bundle import DataBundle, DataSpec, Split
from dlbench.data.registry import DATASETS, build_data

__all__ = ["DataBundle", "DataSpec", "Split", "DATASETS", "build_data"]
