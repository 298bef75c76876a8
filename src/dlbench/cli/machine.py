"""`dlbench sysinfo` and `dlbench profile`: what this machine has, and what a short training gets out of it.

torch loads only when a command runs: the library is imported inside each command function.
"""
from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from dlbench.cli.console import out
from dlbench.cli.options import override_option


def sysinfo(as_json: bool = typer.Option(False, "--json", help="Machine-readable inventory"),
            data_path: Optional[str] = typer.Option(None, "--data-path", help="Describe the storage of this path"),
            measure: bool = typer.Option(False, "--measure", help="Measure the read bandwidth of --data-path "
                                         "(sequential and random, page cache bypassed)"),
            measure_mib: int = typer.Option(256, "--measure-mib", help="At most this many MiB per read pass"),
            measure_seconds: float = typer.Option(10.0, "--measure-seconds", help="At most this long in all")):
    """Hardware and software inventory: CPU and its instruction sets, RAM, GPUs and their PCIe links and NUMA
    nodes, topology, network adapters and RDMA devices, storage (and its read bandwidth), versions."""
    from dlbench.bench.sysinfo import collect_inventory, inventory_table

    inv = collect_inventory(data_path, measure=measure, measure_bytes=measure_mib << 20,
                            measure_seconds=measure_seconds)
    if as_json:
        print(json.dumps(inv, indent=1))
    else:
        out.print(inventory_table(inv))


def profile(config: str = typer.Argument(..., help="A config YAML, or the name of a shipped config"),
            override: Optional[list[str]] = override_option(),
            steps: int = typer.Option(50, "--steps", help="Timed training steps"),
            warmup: int = typer.Option(5, "--warmup", help="Untimed steps first"),
            as_json: bool = typer.Option(False, "--json")):
    """Throughput, data-stall fraction, memory and CPU use of a short training, with recommendations."""
    from dlbench.bench.profile import profile as profile_fn

    rep = profile_fn(config, list(override or []), steps=steps, warmup=warmup)
    if as_json:
        print(json.dumps(rep, indent=1))
        return
    m = rep["measurements"]
    t = Table(title=f"profile of {rep['config']} on {m['device']}: {m['steps']} steps of batch {m['batch_size']}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    mem = lambda b: "-" if b is None else f"{b / 2**20:.0f} MiB"  # noqa: E731
    for k, v in (("samples/s", f"{m['samples_per_s']:.0f}"), ("step", f"{m['step_ms']:.2f} ms"),
                 ("  waiting for data", f"{m['data_ms']:.2f} ms"), ("  compute", f"{m['compute_ms']:.2f} ms"),
                 ("data-stall fraction", f"{m['data_stall']:.1%}"),
                 ("loader busy (CPU)", "-" if m["loader_busy"] is None else f"{m['loader_busy']:.0%}"),
                 ("loader workers", str(m["num_workers"]) if m["lazy_data"] else "none needed (data on the device)"),
                 ("CPU utilisation (machine)", f"{m['cpu_system']:.0%} of {m['cpu_count']} threads"),
                 ("  of it other processes", "-" if m.get("cpu_other") is None else f"{m['cpu_other']:.0%}"),
                 ("loading CPU per sample", "-" if m.get("loader_cpu_s_per_sample") is None
                  else f"{m['loader_cpu_s_per_sample'] * 1e6:.3g} us"),
                 ("peak host memory (RSS)", mem(m["peak_rss_bytes"])),
                 ("peak device memory", mem(m["peak_device_bytes"]) + (
                     f" of {mem(m['device_total_bytes'])}" if m["device_total_bytes"] else ""))):
        t.add_row(k, v)
    out.print(t)
    for r in rep["recommendations"]:
        style = {"warning": "yellow", "advice": "cyan", "ok": "green"}[r["severity"]]
        out.print(f"[{style}]{r['severity']}[/{style}] {r['kind']}: {r['message']}")
