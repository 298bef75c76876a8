"""The profiler on a deliberately data-starved config, and its recommendation rules."""
import time

import torch

from dlbench.bench.profile import Measurements, measure, recommend


class SlowDataset(torch.utils.data.Dataset):
    """A lazy dataset whose __getitem__ sleeps: slow I/O, not CPU work."""

    def __init__(self, x, y, delay_s):
        self.x, self.y, self.delay_s = x, y, delay_s

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        time.sleep(self.delay_s)
        return self.x[i], self.y[i]


def test_data_starved_config_gets_more_workers_advice():
    from dlbench.api import _as_config, prepare
    from dlbench.data.bundle import Split

    cfg = _as_config({"data": {"kind": "digits", "flatten": True}, "model": {"name": "mlp", "hidden": [32]},
                      "train": {"batch_size": 16, "num_workers": 0, "threads": 1}}, [])
    bundle, model, task, device = prepare(cfg)
    bundle.train = Split(dataset=SlowDataset(bundle.train.x, bundle.train.y, 0.002))
    from dlbench.recipes.registry import get_recipe

    step = get_recipe("mlp").train_step(cfg, model, task, device, 7)
    m = measure(cfg, model, task, bundle, device, step, steps=6, warmup=1)
    assert m.lazy_data and m.data_stall > 0.5 and m.data_ms > 16 * 2 * 0.9
    assert m.loader_busy is not None and m.loader_busy < 0.5  # sleeping, not computing
    assert m.peak_rss_bytes > 0 and m.samples_per_s > 0
    recs = recommend(m, {"gpus": [], "ram_bytes": 64 * 2**30})
    (r,) = [r for r in recs if r.kind == "data_stall"]
    assert "train.num_workers from 0" in r.message and f"{m.data_stall:.0%}" in r.message
    assert r.evidence["data_stall"] == m.data_stall


def meas(**kw):
    base = dict(device="cuda", steps=50, batch_size=64, num_workers=2, lazy_data=True, seconds=1.0,
                samples_per_s=3200.0, step_ms=20.0, data_ms=1.0, compute_ms=19.0, data_stall=0.05, loader_busy=0.2,
                cpu_system=0.3, cpu_count=16, peak_rss_bytes=2**30, peak_device_bytes=40 * 2**30,
                device_total_bytes=80 * 2**30)
    base.update(kw)
    return Measurements(**base)


GPU = {"index": 0, "name": "H200", "memory_bytes": 141 * 2**30,
       "pcie": {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16}}


def kinds(m, inv):
    return {r.kind: r for r in recommend(m, inv)}


def test_balanced_run_has_no_advice():
    assert set(kinds(meas(), {"gpus": [GPU], "ram_bytes": 512 * 2**30})) == {"ok"}


def test_cpu_bound_preprocessing_with_all_cores_busy():
    r = kinds(meas(data_stall=0.4, data_ms=8.0, compute_ms=12.0, loader_busy=0.95, num_workers=15),
              {"gpus": [GPU], "ram_bytes": 512 * 2**30})["cpu_bound_preprocessing"]
    assert "move the preprocessing to the GPU or cache" in r.message and "95%" in r.message


def test_unused_device_memory_suggests_a_larger_batch():
    r = kinds(meas(peak_device_bytes=2 * 2**30), {"gpus": [GPU], "ram_bytes": 512 * 2**30})["larger_batch"]
    assert "a batch of 1024 (x16, from 64)" in r.message and "2.5%" in r.message


def test_small_ram_and_a_degraded_pcie_link_are_warnings():
    slow = {**GPU, "pcie": {"gen_current": 3, "gen_max": 5, "width_current": 8, "width_max": 16}}
    k = kinds(meas(), {"gpus": [slow], "ram_bytes": 128 * 2**30})
    assert k["host_ram"].severity == "warning" and "282" in k["host_ram"].message
    assert "Gen3 x8" in k["pcie_link"].message and "Gen5 x16" in k["pcie_link"].message
