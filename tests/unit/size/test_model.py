"""The sizing arithmetic against hand-computed cases."""
import math

import pytest

from dlbench.errors import UserError
from dlbench.size.devices import Device, Peak
from dlbench.size.model import (CPU_HEADROOM, HOP_LATENCY_S, LAUNCH_S, OVERLAP, Efficiency, Q, Scaling, Workload,
                                allreduce_seconds, device_counts, parse_duration, predict, smallest_meeting)

GPU = Device(name="G", kind="gpu", tflops=Peak(fp32=10, bf16=20), memory_gb=40, memory_bw_gbs=1000,
             interconnect_gbs=100, tdp_w=300, source="test row")
HALF = Efficiency(0.5, "test")


def q(v, unit=""):
    return Q(v, unit, "test")


def workload(**kw):
    base = dict(name="w", precision="fp32", flops_per_sample=q(1e9, "FLOP"), samples=q(64_000.0), global_batch=q(64.0),
                eval_flops=q(0.0, "FLOP"), params=q(1e8), weight_bytes=q(4e8, "bytes"), grad_bytes=q(4e8, "bytes"),
                optimizer_bytes=q(8e8, "bytes"), activation_bytes_per_sample=q(1e6, "bytes"),
                peak_memory_bytes=q(0.0, "bytes"), measured_batch=64, storage_bytes_per_sample=q(1e5, "bytes"),
                dataset_bytes=q(1e10, "bytes"), loader_cpu_s_per_sample=q(1e-3, "s"), operators_per_step=q(100.0))
    base.update(kw)
    return Workload(**base)


def test_ring_allreduce_inside_and_across_nodes():
    t = allreduce_seconds(1e9, 8, 1, link_gbs=100, network_gbps=400)
    assert t == pytest.approx(2 * 7 / 8 * 1e9 / 100e9 + 14 * HOP_LATENCY_S["intra"])
    t2 = allreduce_seconds(1e9, 8, 2, link_gbs=100, network_gbps=400)
    assert t2 - t == pytest.approx(2 * 1 / 2 * 1e9 / 50e9 + 2 * HOP_LATENCY_S["inter"])
    assert allreduce_seconds(1e9, 1, 1, 100, 400) == 0


def test_one_gpu_compute_bound():
    p = predict(workload(), GPU, 1, 1, HALF)
    step = 1e9 * 64 / (10e12 * 0.5)  # 12.8 ms, above the 100 x 8 us launch floor
    assert p.step_time.value == pytest.approx(step) and p.bound == "compute"
    assert p.time_to_train.value == pytest.approx(1000 * step)
    assert p.samples_per_s.value == pytest.approx(64 / step)
    # loader cores: 1 ms/sample x 5000 samples/s x headroom + the main process
    assert p.cpu_cores_per_device.value == pytest.approx(1e-3 * 5000 * CPU_HEADROOM + 1)
    assert p.ram_per_node.value == pytest.approx(2 * 40e9)
    assert p.storage_bw_per_node.value == pytest.approx(1e5 * 5000)
    assert p.memory_per_device.value == pytest.approx(4e8 + 4e8 + 8e8 + 64 * 1e6) and p.fits
    assert p.time_to_train.source.startswith("1000 steps x 12.8 ms")


def test_bf16_uses_its_column_and_tiny_models_hit_the_launch_floor():
    p = predict(workload(precision="bf16", flops_per_sample=q(1e3, "FLOP")), GPU, 1, 1, HALF)
    assert p.peak_flops.value == 20e12
    assert p.step_time.value == pytest.approx(100 * LAUNCH_S) and p.bound == "operator launches"


def test_four_gpus_expose_the_allreduce_not_hidden_by_backward():
    p = predict(workload(), GPU, 4, 1, HALF)
    compute = 1e9 * 16 / 5e12
    ar = 2 * 3 / 4 * 4e8 / 100e9 + 6 * HOP_LATENCY_S["intra"]
    assert p.allreduce_time.value == pytest.approx(ar)
    assert p.step_time.value == pytest.approx(compute + ar - OVERLAP * compute)
    assert p.memory_per_device.value == pytest.approx(1.6e9 + 16 * 1e6)


def test_two_nodes_network_per_node_at_the_step_rate():
    p = predict(workload(), GPU, 8, 2, HALF, network_gbps=400)
    step = p.step_time.value
    assert p.network_per_node.value == pytest.approx(2 * 1 / 2 * 4e8 / step * 8 / 1e9)
    assert p.storage_bw_per_node.value == pytest.approx(1e5 * 64 / step / 2)
    assert p.ram_per_node.value == pytest.approx(2 * 8 * 40e9)
    assert p.power.value == 16 * 300


def test_measured_scaling_replaces_the_allreduce_model_for_its_kind():
    sc = Scaling("gpu", {4: 0.5}, "test sweep")
    p = predict(workload(), GPU, 4, 1, HALF, scaling=sc)
    assert p.step_time.value == pytest.approx(0.0128 / (4 * 0.5)) and "measured scaling" in p.bound
    assert predict(workload(), GPU, 4, 1, HALF, scaling=Scaling("cpu", {4: 0.5}, "x")).bound != p.bound


def test_evaluations_scale_with_devices_and_memory_that_does_not_fit_is_flagged():
    w = workload(eval_flops=q(5e12, "FLOP"), activation_bytes_per_sample=q(1e9, "bytes"))
    p1, p2 = predict(w, GPU, 1, 1, HALF), predict(w, GPU, 2, 1, HALF)
    assert p1.time_to_train.value - 1000 * p1.step_time.value == pytest.approx(1.0)
    assert p2.time_to_train.value - 1000 * p2.step_time.value == pytest.approx(0.5)
    assert not p1.fits and "FSDP" in p1.notes[0]


def test_smallest_device_count_meeting_a_target():
    assert device_counts(8, 4) == [(1, 1), (2, 1), (4, 1), (8, 1), (8, 2), (8, 4)]
    w = workload(grad_bytes=q(1e3, "bytes"))
    hit, best = smallest_meeting(w, GPU, HALF, 12.8 / 3.5, 8)
    assert hit.devices == 4 and hit.time_to_train.value <= 12.8 / 3.5
    none, best = smallest_meeting(workload(flops_per_sample=q(1e3, "FLOP")), GPU, HALF, 1e-3, 8)
    assert none is None and best.bound == "operator launches"


def test_durations():
    assert parse_duration("10m") == 600 and parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("45") == 45 and math.isclose(parse_duration("2d"), 172800)
    for bad in ("soon", "-3m", "0s", "5 fortnights"):
        with pytest.raises(UserError):
            parse_duration(bad)


def test_more_devices_than_samples_per_step_is_not_a_candidate():
    p = predict(workload(global_batch=q(8.0), samples=q(800.0)), GPU, 8, 2, HALF)
    assert not p.fits and "at least one sample" in p.notes[0]
    hit, best = smallest_meeting(workload(global_batch=q(8.0), samples=q(800.0)), GPU, HALF, 1e-9, 8)
    assert hit is None and best.devices <= 8
