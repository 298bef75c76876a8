"""Sentences from the sizing model: what a GPU would change, what meets a target, what a server needs."""
from __future__ import annotations

from dlbench.size.devices import find, shipped
from dlbench.size.model import (DEFAULT_GPU_EFFICIENCY, LAUNCH_S, Efficiency, Q, Workload, fmt, human_seconds,
                                predict)

WHAT_IF_GPUS = ("H100-SXM", "L40S", "L4")


def one_step_workload(d, precision: str, loader_cpu_s: float | None = None) -> Workload:
    """A Workload of one step at the measured batch, from workload.StepDemands."""
    b = float(d.batch)
    return Workload(
        name="one step", precision=precision, flops_per_sample=d.flops_per_sample,
        samples=Q(b, "samples", "one step"), global_batch=Q(b, "samples", "the config's batch"),
        eval_flops=Q(0.0, "FLOP", "no evaluation"), params=d.params, weight_bytes=d.weight_bytes,
        grad_bytes=d.grad_bytes, optimizer_bytes=d.optimizer_bytes,
        activation_bytes_per_sample=d.activation_bytes_per_sample, peak_memory_bytes=d.peak_memory_bytes,
        measured_batch=d.batch, storage_bytes_per_sample=d.storage_bytes_per_sample, dataset_bytes=d.dataset_bytes,
        loader_cpu_s_per_sample=Q(loader_cpu_s or 0.0, "s", "measured by profile"),
        operators_per_step=d.operators_per_step)


def gpu_what_if(demands, measured_step_s: float, precision: str, gpus=WHAT_IF_GPUS) -> list[dict]:
    """Predicted step time of the measured step on one GPU of each class, against the measured CPU step."""
    rows = list(shipped())
    w = one_step_workload(demands, precision)
    eff = Efficiency(DEFAULT_GPU_EFFICIENCY, f"assumed {DEFAULT_GPU_EFFICIENCY:.0%} of dense peak")
    out = []
    for name in gpus:
        p = predict(w, find(name, rows), 1, 1, eff)
        s = p.step_time.value
        out.append({"device": p.device, "step_ms": s * 1e3, "speedup": measured_step_s / s, "bound": p.bound,
                    "assumption": f"{DEFAULT_GPU_EFFICIENCY:.0%} of {precision} peak, {LAUNCH_S * 1e6:.0f} us per "
                                  f"operator x {demands.operators_per_step.value:.0f} operators"})
    return out


def target_line(best_per_device: list, target_s: float) -> str:
    """For an unmet target: the fastest any candidate gets, and why adding devices stops helping."""
    best = min(best_per_device, key=lambda p: p.time_to_train.value)
    why = {"operator launches": "the step is bound by per-operator launch cost, which more GPUs do not shrink",
           "all-reduce": "the step is bound by the gradient all-reduce"}.get(best.bound, "")
    need = best.time_to_train.value / target_s
    return (f"no candidate trains in {human_seconds(target_s)}: the fastest is {best.devices} x {best.device} at "
            f"{human_seconds(best.time_to_train.value)} ({need:.3g}x the target)" + (f"; {why}" if why else ""))


def server_lines(p, target_s: float | None = None) -> list[str]:
    """The 'buy this' summary of one prediction, each figure with its basis."""
    node = f"{p.per_node} x {p.device}" + (f" per node, {p.nodes} nodes" if p.nodes > 1 else "")
    lines = [f"{node}: time-to-train {human_seconds(p.time_to_train.value)}"
             + (f" (target {human_seconds(target_s)})" if target_s else ""),
             f"  CPU cores per {'GPU' if p.kind == 'gpu' else 'device'}: {p.cpu_cores_per_device.value:.1f} "
             f"[{p.cpu_cores_per_device.source}]",
             f"  system RAM per node: {fmt(p.ram_per_node.value, 'bytes')} [{p.ram_per_node.source}]",
             f"  storage read per node: {fmt(p.storage_bw_per_node.value, 'bytes')}/s [{p.storage_bw_per_node.source}]",
             f"  memory per device: {fmt(p.memory_per_device.value, 'bytes')} "
             f"({'fits' if p.fits else 'does NOT fit'}) [{p.memory_per_device.source}]"]
    if p.nodes > 1:
        lines.append(f"  network per node: {p.network_per_node.value:.3g} Gb/s [{p.network_per_node.source}]")
    return lines
