"""The sizing model: from a workload's measured demands and a device row to time-to-train and a server.

Every number is a `Q`: a value, its unit and where it came from ("measured: ...", "derived: ...",
"assumed: ...", "table: ..."), so the output can show the basis of each line.

    step time on n devices = max(FLOPs/sample x batch/n / (peak x efficiency), operators x launch cost)
                             + all-reduce time not hidden behind the backward pass
    all-reduce (ring)      = 2(g-1)/g x G / link  (inside a node, g devices)
                             + 2(m-1)/m x G / network per node  (across m nodes, hierarchical)
                             + 2(n-1) x per-hop latency
    time-to-train          = steps x step time + evaluation FLOPs / (n x peak x efficiency)

Where `bench run --scaling` measured the speedup at a device count, that efficiency replaces the
all-reduce model for devices of the kind it was measured on.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from dlbench.size.devices import Device

# Stated assumptions: each is printed with the numbers that use it.
DEFAULT_GPU_EFFICIENCY = 0.40
"""Fraction of dense peak a well-fed data-parallel training step reaches on a GPU, used where no GPU was measured."""
DEFAULT_CPU_EFFICIENCY = 0.10
"""Fraction of a CPU's FMA peak eager PyTorch training reaches, used where this CPU was not profiled."""
LAUNCH_S = 8e-6
"""Eager PyTorch cost per operator on a GPU (dispatch + kernel launch): the floor of a tiny model's step."""
OVERLAP = 2 / 3
"""Share of the compute the all-reduce can hide behind (DDP overlaps gradient buckets with the backward pass)."""
HOP_LATENCY_S = {"intra": 10e-6, "inter": 20e-6}
CPU_HEADROOM = 1.5
"""Loader cores per device = measured CPU-seconds per sample x samples/s per device x this, plus one core."""
RAM_PER_GPU_MEMORY = 2.0
"""System RAM >= 2 x total GPU memory: NVIDIA's guideline for certified (DGX/HGX) training servers."""
DEVICE_MEMORY_USABLE = 0.9


@dataclass
class Q:
    value: float | None
    unit: str
    source: str

    def __str__(self) -> str:
        return f"{fmt(self.value, self.unit)} ({self.source})"


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit == "s":
        return human_seconds(v)
    if unit == "bytes":
        for u, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if abs(v) >= k:
                return f"{v / k:.3g} {u}"
        return f"{v:.0f} B"
    if unit == "FLOP":
        for u, k in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
            if abs(v) >= k:
                return f"{v / k:.3g} {u}"
        return f"{v:.0f} FLOP"
    return f"{v:.3g} {unit}".strip()


def human_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 3 * 86400:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


def parse_duration(text: str) -> float:
    """'10m', '90s', '2h', '1.5d', '500ms', '45' (seconds) -> seconds."""
    from dlbench.errors import UserError

    t = str(text).strip().lower()
    units = {"ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    num, unit = t.rstrip("abcdefghijklmnopqrstuvwxyz"), t[len(t.rstrip("abcdefghijklmnopqrstuvwxyz")):] or "s"
    try:
        v = float(num) * units[unit]
    except (ValueError, KeyError):
        raise UserError(f"--target-time '{text}' is not a duration", "e.g. 90s, 10m, 2h or 1.5d") from None
    if not v > 0 or not math.isfinite(v):
        raise UserError(f"--target-time '{text}' must be a positive duration")
    return v


@dataclass
class Workload:
    """What one training of the model demands, each with its source."""
    name: str
    precision: str
    flops_per_sample: Q
    """Training FLOPs per sample: forward + backward (+ optimizer), counted by torch's FLOP counter."""
    samples: Q
    """Samples processed until the target / the end of training."""
    global_batch: Q
    eval_flops: Q
    """Forward FLOPs of all evaluations during training together."""
    params: Q
    weight_bytes: Q
    grad_bytes: Q
    """Gradient bytes all-reduced per step (every trainable parameter's gradient, in its dtype)."""
    optimizer_bytes: Q
    activation_bytes_per_sample: Q
    peak_memory_bytes: Q
    """Peak device memory at the measured batch (measured on a GPU, estimated from the model elsewhere)."""
    measured_batch: int
    storage_bytes_per_sample: Q
    dataset_bytes: Q
    loader_cpu_s_per_sample: Q
    operators_per_step: Q

    @property
    def steps(self) -> float:
        return self.samples.value / self.global_batch.value


@dataclass
class Efficiency:
    value: float
    source: str
    measured_on: str | None = None
    """Device name the efficiency was measured on (None: a stated default)."""


def efficiency_for(dev: Device, measured: Efficiency | None) -> Efficiency:
    """The measured efficiency where it transfers (same kind of device), else the stated default."""
    if measured and measured.measured_on:
        if measured.measured_on == dev.name:
            return measured
        if dev.kind == "cpu" and measured.measured_on == "this-cpu":
            return Efficiency(measured.value, f"calibrated on this CPU ({measured.source}); assumed to carry over "
                              "to other x86 server CPUs", "this-cpu")
    if dev.kind == "gpu":
        return Efficiency(DEFAULT_GPU_EFFICIENCY, f"assumed: {DEFAULT_GPU_EFFICIENCY:.0%} of dense peak (no GPU was "
                          "measured; profile on a GPU to calibrate)")
    return Efficiency(DEFAULT_CPU_EFFICIENCY, f"assumed: {DEFAULT_CPU_EFFICIENCY:.0%} of FMA peak (this CPU was not "
                      "profiled)")


def allreduce_seconds(grad_bytes: float, per_node: int, nodes: int, link_gbs: float, network_gbps: float) -> float:
    """Ring all-reduce of `grad_bytes` over per_node devices x nodes (hierarchical across nodes)."""
    t = 0.0
    if per_node > 1:
        t += 2 * (per_node - 1) / per_node * grad_bytes / (link_gbs * 1e9)
        t += 2 * (per_node - 1) * HOP_LATENCY_S["intra"]
    if nodes > 1:
        t += 2 * (nodes - 1) / nodes * grad_bytes / (network_gbps / 8 * 1e9)
        t += 2 * (nodes - 1) * HOP_LATENCY_S["inter"]
    return t


@dataclass
class Scaling:
    """Measured scaling efficiency per device count (bench run --scaling), for one kind of device."""
    kind: str
    points: dict[int, float]
    source: str

    def at(self, n: int) -> float | None:
        if n in self.points:
            return self.points[n]
        return None


@dataclass
class Prediction:
    device: str
    kind: str
    nodes: int
    per_node: int
    devices: int
    time_to_train: Q
    step_time: Q
    compute_time: Q
    allreduce_time: Q
    exposed_allreduce: Q
    samples_per_s: Q
    bound: str
    """What limits the step: compute, operator launches, all-reduce, or measured scaling."""
    efficiency: Q
    peak_flops: Q
    memory_per_device: Q
    fits: bool
    cpu_cores_per_device: Q
    ram_per_node: Q
    storage_bw_per_node: Q
    network_per_node: Q
    power: Q
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def predict(w: Workload, dev: Device, per_node: int, nodes: int, eff: Efficiency, *, network_gbps: float = 400.0,
            scaling: Scaling | None = None, cache_dataset: bool = False) -> Prediction:
    n = per_node * nodes
    batch = w.global_batch.value
    peak, column = dev.peak_flops(w.precision)
    notes = []
    if column != w.precision:
        notes.append(f"{dev.name} has no {w.precision} rate in the table: its {column} peak is used")
    rate = peak * eff.value
    per_dev_batch = batch / n
    t_flops = w.flops_per_sample.value * per_dev_batch / rate
    t_launch = (w.operators_per_step.value or 0) * LAUNCH_S if dev.kind == "gpu" else 0.0
    t_dev = max(t_flops, t_launch)
    link = dev.interconnect_gbs
    t_ar = allreduce_seconds(w.grad_bytes.value, per_node, nodes, link, network_gbps) if n > 1 else 0.0
    exposed = max(0.0, t_ar - OVERLAP * t_dev)
    step = t_dev + exposed
    bound = "operator launches" if t_launch > t_flops else "compute"
    if exposed > 0.5 * step:
        bound = "all-reduce"
    measured = scaling.at(n) if scaling and n > 1 and scaling.kind == dev.kind else None
    if measured:
        one = max(w.flops_per_sample.value * batch / rate, t_launch)
        step = one / (n * measured)
        bound = f"measured scaling ({measured:.0%} at {n})"
    eval_s = w.eval_flops.value / (n * rate)
    ttt = w.steps * step + eval_s
    sps = batch / step
    # memory per device: weights, gradients and optimizer state are replicated (DDP); activations scale with the batch
    act = (w.activation_bytes_per_sample.value or 0) * per_dev_batch
    mem = w.weight_bytes.value + w.grad_bytes.value + w.optimizer_bytes.value + act
    fits = mem <= DEVICE_MEMORY_USABLE * dev.memory_gb * 1e9
    if n > batch:
        fits = False
        notes.append(f"{n} devices for a global batch of {batch:g}: each device needs at least one sample per "
                     "step (raise train.batch_size, which changes the training recipe)")
    elif not fits:
        notes.append(f"needs {fmt(mem, 'bytes')} per device, {dev.name} has {dev.memory_gb:g} GB: shard the model "
                     "(FSDP) or use activation checkpointing, or a device with more memory")
    cpu_s = w.loader_cpu_s_per_sample.value or 0.0
    cores = cpu_s * sps / n * CPU_HEADROOM + 1
    gpu_mem_node = dev.memory_gb * 1e9 * per_node if dev.kind == "gpu" else 0.0
    ram = max(RAM_PER_GPU_MEMORY * gpu_mem_node, mem * per_node if dev.kind == "cpu" else 0.0)
    ram_src = (f"{RAM_PER_GPU_MEMORY:g} x {per_node} x {dev.memory_gb:g} GB GPU memory (NVIDIA's guideline for "
               "training servers)" if dev.kind == "gpu" else "model state + activations of the CPUs")
    if cache_dataset and w.dataset_bytes.value:
        ram += 1.2 * w.dataset_bytes.value
        ram_src += f" + 1.2 x the dataset ({fmt(w.dataset_bytes.value, 'bytes')}) cached in memory"
    storage = (w.storage_bytes_per_sample.value or 0.0) * sps / nodes
    net = (2 * (nodes - 1) / nodes * w.grad_bytes.value / step * 8 / 1e9) if nodes > 1 else 0.0
    return Prediction(
        device=dev.name, kind=dev.kind, nodes=nodes, per_node=per_node, devices=n,
        time_to_train=Q(ttt, "s", f"{w.steps:.4g} steps x {human_seconds(step)} + evaluations {human_seconds(eval_s)}"),
        step_time=Q(step, "s", f"{bound}-bound"),
        compute_time=Q(t_dev, "s", f"{fmt(w.flops_per_sample.value, 'FLOP')}/sample x {per_dev_batch:.4g} samples / "
                       f"({peak / 1e12:.4g} TFLOP/s {column} x {eff.value:.1%})"
                       + (f"; floor {w.operators_per_step.value:.0f} operators x {LAUNCH_S * 1e6:.0f} us (assumed)"
                          if dev.kind == "gpu" else "")),
        allreduce_time=Q(t_ar, "s", f"ring all-reduce of {fmt(w.grad_bytes.value, 'bytes')} over {per_node} x "
                         f"{link:g} GB/s links" + (f" and {nodes} nodes x {network_gbps:g} Gb/s" if nodes > 1 else "")),
        exposed_allreduce=Q(exposed, "s", f"all-reduce minus {OVERLAP:.0%} of compute hidden behind backward (assumed)"),
        samples_per_s=Q(sps, "samples/s", "global batch / step time"),
        bound=bound,
        efficiency=Q(eff.value, "", eff.source),
        peak_flops=Q(peak, "FLOP/s", f"table: {dev.source}"),
        memory_per_device=Q(mem, "bytes", f"weights + gradients + optimizer state ({w.optimizer_bytes.source}) + "
                            f"activations {fmt(w.activation_bytes_per_sample.value, 'bytes')}/sample x {per_dev_batch:.4g}"),
        fits=fits,
        cpu_cores_per_device=Q(cores, "cores", f"{cpu_s * 1e3:.3g} ms CPU/sample ({w.loader_cpu_s_per_sample.source}) x "
                               f"{sps / n:.4g} samples/s x {CPU_HEADROOM:g} headroom + 1 main process"),
        ram_per_node=Q(ram, "bytes", ram_src),
        storage_bw_per_node=Q(storage, "bytes/s", f"{fmt(w.storage_bytes_per_sample.value, 'bytes')}/sample "
                              f"({w.storage_bytes_per_sample.source}) x {sps / nodes:.4g} samples/s per node"),
        network_per_node=Q(net, "Gb/s", "2(m-1)/m x gradient bytes per step at the step rate" if nodes > 1
                           else "single node: no inter-node traffic"),
        power=Q((dev.tdp_w or 0) * n or None, "W", f"{n} x typical TDP {dev.tdp_w} W (table)"),
        notes=notes)


COUNTS_IN_NODE = (1, 2, 4, 8)


def device_counts(per_node: int, max_nodes: int = 128) -> list[tuple[int, int]]:
    """(per_node, nodes) in growing order: 1, 2, 4 ... per_node devices in one node, then whole nodes."""
    out = [(c, 1) for c in COUNTS_IN_NODE if c < per_node] + [(per_node, 1)]
    m = 2
    while m <= max_nodes:
        out.append((per_node, m))
        m *= 2
    return out


def smallest_meeting(w: Workload, dev: Device, eff: Efficiency, target_s: float, per_node: int, **kw):
    """(prediction meeting the target with the fewest devices or None, the fastest prediction seen)."""
    best = None
    for c, m in device_counts(per_node):
        if c * m > w.global_batch.value:
            break  # more devices than samples per step
        p = predict(w, dev, c, m, eff, **kw)
        if best is None or p.time_to_train.value < best.time_to_train.value:
            best = p
        if p.time_to_train.value <= target_s and p.fits:
            return p, best
    return None, best
