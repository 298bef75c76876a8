"""`dlbench size`: measure the workload here, calibrate, and predict every candidate server.

    from dlbench.size.plan import size
    doc = size("configs/digits-cnn.yaml", target="10m", gpus="H100,L40S", nodes="1,2,4")

Steps: resolve the source (config, benchmark, run, results folder) -> build the model once -> a short
timed profile of the real training step (bench.profile.measure, `profile_seconds` long) -> one step under
the FLOP counter (size.workload) -> the efficiency this machine reached (achieved FLOP/s / its peak) ->
predictions for each candidate and device count (size.model) -> advice (size.advice).
"""
from __future__ import annotations

import time
from dataclasses import asdict

from dlbench.errors import UserError
from dlbench.size import devices as D
from dlbench.size.advice import server_lines, target_line
from dlbench.size.model import (Efficiency, Q, Workload, device_counts, efficiency_for, parse_duration, predict,
                                smallest_meeting)

DEFAULT_CANDIDATES = ("H100-SXM", "L40S", "A100-80GB", "L4")


def parse_nodes(text: str | None) -> list[int]:
    try:
        nodes = sorted({int(x) for x in str(text or "1").split(",") if x.strip()})
    except ValueError:
        raise UserError(f"--nodes '{text}' is not a list of node counts", "e.g. --nodes 1,2,4") from None
    if not nodes or nodes[0] < 1 or nodes[-1] > 4096:
        raise UserError(f"--nodes '{text}': node counts must be 1..4096")
    return nodes


def _profile(cfg, prepared, seconds: float):
    """bench.profile.measure for about `seconds` of timed steps (a 3-step probe sizes it)."""
    from dlbench.bench.profile import measure

    bundle, model, task, device, step = prepared
    t0 = time.perf_counter()
    probe = measure(cfg, model, task, bundle, device, step, steps=3, warmup=1)
    per_step = max(probe.seconds / 3, 1e-4)
    left = max(seconds - (time.perf_counter() - t0), per_step * 5)
    steps = int(min(max(left / per_step, 5), 20000))
    return measure(cfg, model, task, bundle, device, step, steps=steps, warmup=2)


def _this_device(inv: dict, device_type: str, threads: int, rows: list) -> tuple[D.Device | None, str]:
    """(this machine's row, its name): a GPU not in the table has no row (no peak to calibrate against)."""
    if device_type == "cuda":
        name = ((inv.get("gpus") or [{}])[0].get("name")) or "this GPU"
        for candidate in (name, name.replace("NVIDIA ", "")):
            try:
                return D.find(candidate, rows), name
            except UserError:
                continue
        return None, name
    return D.this_cpu(inv, threads), "this-cpu"


def size(source: str, *, target: str | None = None, gpus: str | None = None, nodes: str | None = "1",
         per_node: int = 8, devices_file: str | None = None, network_gbps: float = 400.0,
         profile_seconds: float = 30.0, cache_dataset: bool = False, benchmark: str | None = None,
         overrides: list[str] | None = None) -> dict:
    from dlbench.bench.sysinfo import collect_inventory
    from dlbench.size.source import resolve
    from dlbench.size.workload import measure_step, prepare_step

    if per_node < 1:
        raise UserError("--gpus-per-node must be at least 1")
    if network_gbps <= 0:
        raise UserError("--network-gbps must be positive")
    target_s = parse_duration(target) if target else None
    node_counts = parse_nodes(nodes)
    rows = D.table(devices_file)
    chosen = D.parse_names(gpus, rows)  # unknown names fail here, before any measuring
    src = resolve(source, benchmark, overrides)  # e.g. -o train.num_workers=8: loading measured with 8 workers
    cfg = src.cfg
    prepared = prepare_step(cfg, 10**6)
    device_type = prepared[3].type
    m = _profile(cfg, prepared, profile_seconds) if profile_seconds > 0 else None
    d = measure_step(cfg, prepared)
    inv = collect_inventory()
    here, here_name = _this_device(inv, device_type, (m.threads if m else None) or 1, rows)
    measured_eff = None
    if m and here is not None:
        achieved = d.flops_per_sample.value * m.samples_per_s
        peak, col = here.peak_flops(cfg.train.precision)
        measured_eff = Efficiency(achieved / peak, f"measured: {achieved / 1e9:.3g} GFLOP/s achieved "
                                  f"({m.samples_per_s:.4g} samples/s x {d.flops_per_sample.value / 1e6:.3g} MFLOP) / "
                                  f"{peak / 1e9:.4g} GFLOP/s {col} peak of {here.name} ({here.derivation or here.source})",
                                  here.name)
    evals_flops = d.eval_flops_per_sample.value * d.val_samples * src.evals
    w = Workload(
        name=src.label, precision=cfg.train.precision, flops_per_sample=d.flops_per_sample, samples=src.samples,
        global_batch=Q(float(cfg.train.batch_size), "samples", "the config's global batch (train.batch_size), kept "
                       "at every device count (strong scaling)"),
        eval_flops=Q(evals_flops, "FLOP", f"{src.evals} evaluations x {d.val_samples} validation samples x "
                     f"{d.eval_flops_per_sample.value / 1e6:.3g} MFLOP forward"),
        params=d.params, weight_bytes=d.weight_bytes, grad_bytes=d.grad_bytes, optimizer_bytes=d.optimizer_bytes,
        activation_bytes_per_sample=d.activation_bytes_per_sample, peak_memory_bytes=d.peak_memory_bytes,
        measured_batch=d.batch, storage_bytes_per_sample=d.storage_bytes_per_sample, dataset_bytes=d.dataset_bytes,
        loader_cpu_s_per_sample=Q(m.loader_cpu_s_per_sample if m else 0.0, "s",
                                  f"measured: profile with {m.num_workers} loader workers" if m else
                                  "not measured (--profile-seconds 0): assumed 0"),
        operators_per_step=d.operators_per_step)
    others = chosen or [D.find(n, rows) for n in DEFAULT_CANDIDATES]
    candidates = ([here] if here else []) + [c for c in others if here is None or c.name != here.name]
    kw = {"network_gbps": network_gbps, "scaling": src.scaling, "cache_dataset": cache_dataset}
    preds, curves, meeting, bests = [], {}, {}, []
    for dev in candidates:
        eff = efficiency_for(dev, measured_eff)
        pn = per_node if dev.kind == "gpu" else 1
        counts = [(1, 1)] + [(pn, n) for n in node_counts]
        for c, n in dict.fromkeys(counts):
            preds.append(predict(w, dev, c, n, eff, **kw))
        curves[dev.name] = [(p.devices, p.time_to_train.value)
                            for p in (predict(w, dev, c, n, eff, **kw) for c, n in device_counts(pn, max(node_counts))
                                      if c * n <= cfg.train.batch_size)]
        if target_s:
            hit, best = smallest_meeting(w, dev, eff, target_s, pn, **kw)
            bests.append(best)
            if hit:
                meeting[dev.name] = hit
    advice: list[str] = []
    if target_s:
        if not meeting:
            raise UserError(target_line(bests, target_s), "relax --target-time, train fewer steps, or add devices "
                            "with a faster step (see `dlbench size` without --target-time)")
        pick = min(meeting.values(), key=lambda p: (p.power.value or float("inf"), p.time_to_train.value))
        advice += [f"lowest-power candidate meeting the target: {pick.devices} x {pick.device}"]
        advice += server_lines(pick, target_s)
        for name, p in meeting.items():
            if p is not pick:
                advice.append(f"also meets it: {p.devices} x {name} ({p.time_to_train})")
    doc = {"source": {"kind": src.kind, "label": src.label, "config": cfg.name,
                      "device_count_measured": src.device_count},
           "this_machine": {"device": here.name if here else here_name,
                            "peak": (here.derivation or here.source) if here else
                            f"{here_name} is not in the device table: add its row with --devices to calibrate on it",
                            "profile": asdict(m) if m else None,
                            "measured_time_to_train": asdict(src.measured_time) if src.measured_time else None},
           "efficiency": asdict(measured_eff) if measured_eff else None,
           "scaling": asdict(src.scaling) if src.scaling else None,
           "workload": {k: (asdict(v) if isinstance(v, Q) else v) for k, v in w.__dict__.items()},
           "assumptions": _assumptions(network_gbps),
           "target_s": target_s, "candidates": [p.to_json() for p in preds],
           "meeting_target": {k: p.devices for k, p in meeting.items()},
           "curves": curves, "advice": advice}
    if m and m.cpu_other is not None and m.cpu_other > 0.25:
        doc["advice"].insert(0, f"warning: the machine was busy with other work during the profile ({m.cpu_other:.0%} "
                             "of the CPU): this machine's numbers, and the efficiency calibrated from them, are "
                             "pessimistic")
    return doc


def _assumptions(network_gbps: float) -> dict:
    from dlbench.size import model as M

    return {"default_gpu_efficiency": M.DEFAULT_GPU_EFFICIENCY, "default_cpu_efficiency": M.DEFAULT_CPU_EFFICIENCY,
            "launch_s_per_operator": M.LAUNCH_S, "allreduce_overlap": M.OVERLAP, "hop_latency_s": M.HOP_LATENCY_S,
            "cpu_headroom": M.CPU_HEADROOM, "ram_per_gpu_memory": M.RAM_PER_GPU_MEMORY,
            "network_gbps_per_node": network_gbps}
