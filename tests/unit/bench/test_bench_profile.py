"""The profiler on a deliberately data-starved config, and its recommendation rules."""
import time

import pytest

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


def test_cpu_only_step_is_compute_bound_never_ok_and_names_what_a_gpu_would_change():
    what_if = [{"device": "H100-SXM", "step_ms": 1.9, "speedup": 25.0, "bound": "operator launches",
                "assumption": "40% of fp32 peak, 8 us per operator x 236 operators"}]
    k = kinds(meas(device="cpu", lazy_data=False, peak_device_bytes=None, device_total_bytes=None, data_stall=0.01,
                   threads=2, cpu_other=0.0), {"gpus": [], "ram_bytes": 64 * 2**30})
    assert "ok" not in k and k["cpu_compute_bound"].severity == "advice"
    assert "compute-bound" in k["cpu_compute_bound"].message
    r = recommend(meas(device="cpu", peak_device_bytes=None, device_total_bytes=None, data_stall=0.01, cpu_other=0.0),
                  {"gpus": [], "ram_bytes": 2**36}, what_if)
    (c,) = [x for x in r if x.kind == "cpu_compute_bound"]
    assert "H100-SXM 1.9 ms (25x, operator launches-bound)" in c.message and c.evidence["what_if"] == what_if


def test_a_machine_busy_with_other_work_is_reported():
    k = kinds(meas(cpu_system=0.95, cpu_other=0.6, load_average=7.5), {"gpus": [GPU], "ram_bytes": 512 * 2**30})
    assert k["machine_busy"].severity == "warning" and "60%" in k["machine_busy"].message
    assert "7.5" in k["machine_busy"].message and "ok" not in k
    assert set(kinds(meas(cpu_other=0.1), {"gpus": [GPU], "ram_bytes": 512 * 2**30})) == {"ok"}


def test_the_gpu_what_if_from_the_sizing_model():
    from dlbench.size.advice import gpu_what_if
    from dlbench.size.model import Q
    from dlbench.size.workload import StepDemands

    q = lambda v, u="": Q(v, u, "test")  # noqa: E731
    d = StepDemands(flops_per_sample=q(1e9, "FLOP"), eval_flops_per_sample=q(3e8, "FLOP"), params=q(1e6),
                    weight_bytes=q(4e6), grad_bytes=q(4e6), optimizer_bytes=q(8e6), activation_bytes_per_sample=q(1e5),
                    peak_memory_bytes=q(2e7), operators_per_step=q(200.0), storage_bytes_per_sample=q(1e3),
                    dataset_bytes=q(1e6), batch=64, train_samples=1000, val_samples=100)
    rows = {w["device"]: w for w in gpu_what_if(d, 1.0, "fp32")}
    # H100 SXM fp32: 64 GFLOP / (67 TFLOP/s x 40%) = 2.39 ms, above the 200 x 8 us = 1.6 ms launch floor
    assert rows["H100-SXM"]["step_ms"] == pytest.approx(64e9 / (67e12 * 0.4) * 1e3)
    assert rows["H100-SXM"]["speedup"] == pytest.approx(1.0 / (64e9 / (67e12 * 0.4)))
    assert rows["L4"]["step_ms"] > rows["H100-SXM"]["step_ms"]
