"""`dlbench profile CONFIG`: where a training step's time goes, and what to change.

A short measurement loop of its own (it measures, it does not train for quality): the
config's model, optimizer, batch size and data loader, `warmup` untimed steps, then
`steps` timed ones. Each step is split at a device synchronization into
  data    time blocked in next(batches) (loading, preprocessing, host-to-device copy)
  compute forward, backward and optimizer step, until the device is idle
so the data-stall fraction is data / (data + compute). Synchronizing every step costs a
little throughput (no overlap of consecutive steps); the numbers say how fast the step is,
not how fast `dlbench train` is to the last percent.

Also measured: peak host memory (RSS of the process and its loader workers), peak device
memory (torch.cuda.max_memory_allocated) against the device's total, and CPU use: how busy
the loading side was while the step waited for data (process CPU time spent inside
next(batches), plus the loader workers' CPU time), and the machine-wide utilisation.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import psutil
import torch

from dlbench.training.device import synchronize

DATA_STALL_LIMIT = 0.10
DEVICE_MEMORY_UNUSED = 0.25  # peak below a quarter of the device: the batch could grow
CPU_BOUND_BUSY = 0.70  # the loader side computes (not sleeps or waits on I/O) this fraction of its time
RAM_PER_GPU_MEMORY = 2.0
RSS_EVERY_S = 0.25  # peak memory and loader-worker CPU are sampled this often during the timed steps
BUSY_OTHER = 0.25  # other processes used more than a quarter of the machine: the numbers are pessimistic


@dataclass
class Measurements:
    device: str
    steps: int
    batch_size: int
    num_workers: int
    lazy_data: bool
    """True when batches come from a DataLoader (data that does not fit in memory)."""
    seconds: float
    samples_per_s: float
    step_ms: float
    data_ms: float
    compute_ms: float
    data_stall: float
    loader_busy: float | None
    """CPU time of the loading side / its wall time (main thread in next(); workers over their lifetime)."""
    cpu_system: float
    """Machine-wide CPU utilisation during the timed steps, 0..1 (includes other processes)."""
    cpu_count: int
    peak_rss_bytes: int
    peak_device_bytes: int | None = None
    device_total_bytes: int | None = None
    loader_cpu_s_per_sample: float | None = None
    """CPU-seconds spent loading and preprocessing per sample (workers' CPU time, or the main thread's inside
    next()), with `num_workers` loader workers."""
    cpu_other: float | None = None
    """Machine-wide CPU utilisation the profile did not cause (other processes), 0..1 of all threads."""
    load_average: float | None = None
    """1-minute load average at the end of the timed steps."""
    threads: int | None = None
    """torch intra-op threads the step ran with."""


@dataclass
class Recommendation:
    kind: str
    severity: str  # "warning" | "advice" | "ok"
    message: str
    evidence: dict = field(default_factory=dict)


def _tree_rss(proc: psutil.Process) -> int:
    rss = proc.memory_info().rss
    for c in proc.children(recursive=True):
        try:
            rss += c.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return rss


def _children_cpu(proc: psutil.Process, seen: dict) -> None:
    """Track each loader worker's CPU time: {pid: (first seen, last seen)}."""
    for c in proc.children(recursive=True):
        try:
            t = c.cpu_times()
        except psutil.Error:
            continue
        busy = t.user + t.system
        first = seen.get(c.pid, (busy, busy))[0]
        seen[c.pid] = (first, busy)


def _own_cpu(proc: psutil.Process) -> float:
    """CPU-seconds of this process and its live children (loader workers)."""
    t = proc.cpu_times()
    total = t.user + t.system
    for c in proc.children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            pass
    return total


def _try_load() -> float | None:
    try:
        return psutil.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def measure(cfg, model, task, bundle, device, step, steps: int = 50, warmup: int = 5) -> Measurements:
    """Time `steps` training steps of a prepared model (see api.prepare) after `warmup` untimed ones.

    step: the recipe's `TrainStep`, the very step `dlbench train` runs (autocast, clipping, scheduler)."""
    from dlbench.data.loaders import TrainBatches

    tc = cfg.train
    batches = TrainBatches(bundle.train, tc.batch_size, tc.seed, device, num_workers=tc.num_workers)
    proc = psutil.Process()
    model.train()
    data_s = compute_s = data_cpu = 0.0
    peak_rss, workers = 0, {}
    t_begin, own0, last_sample = 0.0, 0.0, 0.0
    for i in range(warmup + steps):
        if i == warmup:  # the timed part starts; warm-up loaded kernels and started the workers
            synchronize(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            psutil.cpu_percent(None)
            workers.clear()
            _children_cpu(proc, workers)
            own0 = _own_cpu(proc)
            t_begin = time.perf_counter()
        t0, c0 = time.perf_counter(), time.process_time()
        fetched = [next(batches) for _ in range(step.batches_per_step)]
        synchronize(device)  # the copy to the device is part of getting the data
        t1, c1 = time.perf_counter(), time.process_time()
        step.run(iter(fetched))
        synchronize(device)
        t2 = time.perf_counter()
        if i >= warmup:
            data_s += t1 - t0
            compute_s += t2 - t1
            data_cpu += c1 - c0
            # psutil walks /proc for the children (milliseconds on a busy machine): sample a few times a
            # second, not every step, or the instrumentation itself slows the step it measures
            if t2 - last_sample >= RSS_EVERY_S or i == warmup + steps - 1:
                peak_rss = max(peak_rss, _tree_rss(proc))
                if tc.num_workers and not bundle.train.in_memory:
                    _children_cpu(proc, workers)
                last_sample = time.perf_counter()
    wall = time.perf_counter() - t_begin
    cpu_system = psutil.cpu_percent(None) / 100
    own = _own_cpu(proc) - own0
    lazy = not bundle.train.in_memory
    worker_cpu = sum(last - first for first, last in workers.values())
    if lazy and tc.num_workers:
        loader_busy = worker_cpu / max(tc.num_workers * wall, 1e-9)
    else:  # loading runs in this process, inside next()
        loader_busy = data_cpu / data_s if data_s > 0 else None
    m = Measurements(device=str(device), steps=steps, batch_size=tc.batch_size, num_workers=tc.num_workers,
                     lazy_data=lazy, seconds=wall, samples_per_s=steps * step.batches_per_step * batches.global_batch / max(wall, 1e-9),
                     step_ms=1e3 * (data_s + compute_s) / steps, data_ms=1e3 * data_s / steps,
                     compute_ms=1e3 * compute_s / steps, data_stall=data_s / max(data_s + compute_s, 1e-12),
                     loader_busy=loader_busy, cpu_system=cpu_system, cpu_count=psutil.cpu_count() or 1,
                     peak_rss_bytes=peak_rss)
    n_samples = steps * step.batches_per_step * batches.global_batch
    m.loader_cpu_s_per_sample = (worker_cpu if lazy and tc.num_workers else data_cpu) / max(n_samples, 1)
    ncpu = m.cpu_count
    m.cpu_other = max(0.0, min(1.0, cpu_system - own / max(wall * ncpu, 1e-9)))
    m.load_average = _try_load()
    m.threads = torch.get_num_threads()
    if device.type == "cuda":
        m.peak_device_bytes = int(torch.cuda.max_memory_allocated(device))
        m.device_total_bytes = int(torch.cuda.get_device_properties(device).total_memory)
    return m


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def recommend(m: Measurements, inventory: dict, what_if: list[dict] | None = None) -> list[Recommendation]:
    """Advice from the measurements and the inventory; each names the numbers behind it.

    what_if: for a step measured on the CPU, the sizing model's step time on one GPU of each class
    (dlbench.size.advice.gpu_what_if)."""
    out: list[Recommendation] = []
    if m.cpu_other is not None and m.cpu_other > BUSY_OTHER:
        load = f", load average {m.load_average:.1f}" if m.load_average is not None else ""
        out.append(Recommendation("machine_busy", "warning",
                   f"the machine is busy with other work: {m.cpu_other:.0%} of its {m.cpu_count} threads ran "
                   f"processes this profile did not start (machine {m.cpu_system:.0%} busy{load}); the numbers "
                   f"are pessimistic: profile again on an idle machine", {"cpu_other": m.cpu_other,
                   "cpu_system": m.cpu_system, "load_average": m.load_average}))
    if m.device.startswith("cpu"):
        ev = {"compute_ms": m.compute_ms, "data_ms": m.data_ms, "cpu_system": m.cpu_system, "threads": m.threads}
        gpus_txt = ""
        if what_if:
            parts = [f"{w['device']} {w['step_ms']:.3g} ms ({w['speedup']:.3g}x, {w['bound']}-bound)" for w in what_if]
            gpus_txt = (f"; one GPU per step, from the sizing model ({what_if[0]['assumption']}): " + ", ".join(parts))
            ev["what_if"] = what_if
        out.append(Recommendation("cpu_compute_bound", "advice",
                   f"training runs on the CPU and is compute-bound there: {m.compute_ms:.3g} ms of the "
                   f"{m.step_ms:.3g} ms step is compute ({1 - m.data_stall:.0%}), on {m.threads or '?'} "
                   f"thread{'' if m.threads == 1 else 's'}, "
                   f"machine {m.cpu_system:.0%} busy{gpus_txt}", ev))
    gpus = inventory.get("gpus") or []
    cores_per_gpu = m.cpu_count / max(1, len(gpus))
    if m.data_stall > DATA_STALL_LIMIT:
        ev = {"data_stall": m.data_stall, "data_ms": m.data_ms, "compute_ms": m.compute_ms,
              "loader_busy": m.loader_busy, "num_workers": m.num_workers, "cpu_cores_per_gpu": cores_per_gpu}
        busy = f"{m.loader_busy:.0%}" if m.loader_busy is not None else "?"
        stall = (f"the step waits for data {m.data_stall:.0%} of the time ({m.data_ms:.1f} ms of "
                 f"{m.step_ms:.1f} ms per step)")
        if m.loader_busy is not None and m.loader_busy >= CPU_BOUND_BUSY and m.num_workers >= cores_per_gpu - 1:
            out.append(Recommendation("cpu_bound_preprocessing", "advice",
                       f"{stall}, and the loading side is CPU-bound (busy {busy} of its time, {m.num_workers} "
                       f"workers for {cores_per_gpu:.0f} CPU cores per GPU): move the preprocessing to the GPU "
                       f"or cache the preprocessed data (or use a machine with more CPU cores per GPU)", ev))
        elif m.loader_busy is not None and m.loader_busy >= CPU_BOUND_BUSY:
            n = int(min(max(2 * m.num_workers, m.num_workers + 2), max(cores_per_gpu - 1, 1)))
            out.append(Recommendation("cpu_bound_preprocessing", "advice",
                       f"{stall}; the loading side is CPU-bound (busy {busy} of its time): raise "
                       f"train.num_workers from {m.num_workers} to {n} (there are {cores_per_gpu:.0f} CPU cores "
                       f"per GPU), or move the preprocessing to the GPU or cache it", ev))
        else:
            n = int(min(max(2 * m.num_workers, m.num_workers + 2), max(cores_per_gpu - 1, 1))) if m.lazy_data else 0
            what = (f"raise train.num_workers from {m.num_workers} to {n} (there are {cores_per_gpu:.0f} CPU cores per "
                    f"GPU; the loader is busy only {busy} of its time, so it waits on I/O or sleeps: more workers "
                    f"overlap the waiting)") if m.lazy_data and n > m.num_workers else (
                    f"the loader is busy only {busy} of its time, so it waits on I/O: put the data on faster "
                    f"storage or in memory, or use a machine with more CPU cores per GPU "
                    f"({cores_per_gpu:.0f} now)")
            out.append(Recommendation("data_stall", "advice", f"{stall}: {what}", ev))
    if m.peak_device_bytes is not None and m.device_total_bytes:
        used = m.peak_device_bytes / m.device_total_bytes
        if used < DEVICE_MEMORY_UNUSED:
            factor = 1
            while factor < 64 and used * factor * 2 <= 0.5:
                factor *= 2
            if factor > 1:
                out.append(Recommendation("larger_batch", "advice",
                           f"peak device memory is {_gib(m.peak_device_bytes)} of {_gib(m.device_total_bytes)} "
                           f"({used:.1%}): a batch of {m.batch_size * factor} (x{factor}, from {m.batch_size}) still "
                           f"fits in half of it; scale optim.lr with it and re-check the quality",
                           {"peak_device_bytes": m.peak_device_bytes, "device_total_bytes": m.device_total_bytes}))
    gpu_mem = sum(g.get("memory_bytes") or 0 for g in gpus)
    ram = inventory.get("ram_bytes") or 0
    if gpu_mem and ram < RAM_PER_GPU_MEMORY * gpu_mem:
        out.append(Recommendation("host_ram", "warning",
                   f"system RAM {_gib(ram)} is less than {RAM_PER_GPU_MEMORY:g}x the total GPU memory "
                   f"{_gib(gpu_mem)}: pinned staging buffers, loader workers and the page cache will compete; "
                   f"size servers with at least {_gib(RAM_PER_GPU_MEMORY * gpu_mem)} of RAM",
                   {"ram_bytes": ram, "gpu_memory_bytes": gpu_mem}))
    for g in gpus:
        p = g.get("pcie") or {}
        gen, gmax, w, wmax = p.get("gen_current"), p.get("gen_max"), p.get("width_current"), p.get("width_max")
        if (gen and gmax and gen < gmax) or (w and wmax and w < wmax):
            out.append(Recommendation("pcie_link", "warning",
                       f"GPU {g.get('index')} ({g.get('name')}) PCIe link runs at Gen{gen} x{w}, below its maximum "
                       f"Gen{gmax} x{wmax}: check the slot, riser and BIOS (an idle GPU may also downshift: "
                       f"re-check under load)", {"index": g.get("index"), **p}))
    if not out and not m.device.startswith("cpu"):
        out.append(Recommendation("ok", "ok",
                   f"no bottleneck found: data stall {m.data_stall:.1%}, {m.samples_per_s:.0f} samples/s", {}))
    return out


def profile(config, overrides: list[str] | None = None, steps: int = 50, warmup: int = 5) -> dict:
    """Profile a config (path, shipped name, dict or Config): measurements, recommendations, inventory."""
    from dlbench.api import _as_config, prepare
    from dlbench.bench.sysinfo import collect_inventory
    from dlbench.errors import UserError
    from dlbench.recipes.registry import get_recipe

    if steps < 1 or warmup < 0:
        raise UserError("--steps must be at least 1 and --warmup at least 0")
    cfg = _as_config(config, list(overrides or []))
    bundle, model, task, device = prepare(cfg)
    step = get_recipe(cfg.model.name).train_step(cfg, model, task, device, warmup + steps + 2)
    m = measure(cfg, model, task, bundle, device, step, steps=steps, warmup=warmup)
    inv = collect_inventory()
    what_if = None
    if device.type == "cpu":
        from dlbench.size.advice import gpu_what_if
        from dlbench.size.workload import measure_step

        demands = measure_step(cfg, (bundle, model, task, device, step))
        what_if = gpu_what_if(demands, m.step_ms / 1e3, cfg.train.precision)
    return {"config": cfg.name or str(config), "measurements": asdict(m),
            "recommendations": [asdict(r) for r in recommend(m, inv, what_if)],
            "inventory": {"cpu": inv.get("cpu"), "ram_bytes": inv.get("ram_bytes"),
                          "gpus": [{k: g.get(k) for k in ("index", "name", "memory_bytes", "pcie")} for g in inv["gpus"]]}}
