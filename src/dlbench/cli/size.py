"""`dlbench size`: which servers train this workload in time, with the measurement behind every number.

torch loads only when the command runs (the library is imported inside the function).
"""
from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from dlbench.cli.console import err, out
from dlbench.cli.options import override_option


def size(source: str = typer.Argument(..., help="A config YAML or shipped config, a benchmark name, a run "
                                      "directory, or a bench results/ folder"),
         target_time: Optional[str] = typer.Option(None, "--target-time", help="Train within this, e.g. 10m, 2h"),
         gpus: Optional[str] = typer.Option(None, "--gpus", help="Candidate devices, e.g. H100,L40S,A100-80GB "
                                            "(default: this machine + H100-SXM, L40S, A100-80GB, L4)"),
         nodes: str = typer.Option("1", "--nodes", help="Node counts to compare, e.g. 1,2,4"),
         per_node: int = typer.Option(8, "--gpus-per-node", help="GPUs per node"),
         devices_file: Optional[str] = typer.Option(None, "--devices", help="YAML file of extra device rows"),
         network_gbps: float = typer.Option(400.0, "--network-gbps", help="Network bandwidth per node, Gb/s"),
         profile_seconds: float = typer.Option(30.0, "--profile-seconds", help="Timed profile on this machine "
                                               "(0: none, stated default efficiencies)"),
         cache_dataset: bool = typer.Option(False, "--cache-dataset", help="Size RAM to hold the dataset"),
         benchmark: Optional[str] = typer.Option(None, "--benchmark", help="Results folder: which benchmark"),
         override: Optional[list[str]] = override_option("dotted.key=value, e.g. train.num_workers=8 to measure "
                                                         "loading with 8 workers"),
         plot: Optional[str] = typer.Option(None, "--plot", help="Write the time-to-train vs GPU count PNG here"),
         save: Optional[str] = typer.Option(None, "--save", help="Write the JSON here too (sizing.json beside a "
                                            "results/ folder joins its `dlbench report`)"),
         as_json: bool = typer.Option(False, "--json", help="Everything, each number with its source, as JSON")):
    """Size servers: predicted time-to-train per candidate GPU and count, and the CPU, RAM, storage and
    network each needs."""
    from dlbench.size.model import fmt, human_seconds
    from dlbench.size.plan import size as size_fn

    from pathlib import Path

    from dlbench.errors import UserError

    for flag, path in (("--save", save), ("--plot", plot)):
        if path and not Path(path).parent.is_dir():  # checked before the profile, not after it
            raise UserError(f"{flag} {path}: folder {Path(path).parent} does not exist")
    doc = size_fn(source, target=target_time, gpus=gpus, nodes=nodes, per_node=per_node, devices_file=devices_file,
                  network_gbps=network_gbps, profile_seconds=profile_seconds, cache_dataset=cache_dataset,
                  benchmark=benchmark, overrides=list(override or []))
    if save:
        Path(save).write_text(json.dumps(doc, indent=1, default=str))
        err.print(f"saved: {save}")
    if plot:
        from dlbench.size.plot import curves_png

        curves_png(doc, plot)
        err.print(f"plot: {plot}")
    if as_json:
        print(json.dumps(doc, indent=1, default=str))
        return
    w = doc["workload"]
    basis = Table(title=f"workload: {doc['source']['label']}", show_lines=False)
    basis.add_column("demand")
    basis.add_column("value", justify="right")
    basis.add_column("from")
    for key in ("flops_per_sample", "samples", "global_batch", "eval_flops", "params", "grad_bytes", "optimizer_bytes",
                "activation_bytes_per_sample", "peak_memory_bytes", "storage_bytes_per_sample",
                "loader_cpu_s_per_sample", "operators_per_step"):
        q = w[key]
        basis.add_row(key.replace("_", " "), fmt(q["value"], q["unit"]), q["source"])
    out.print(basis)
    eff = doc["efficiency"]
    if eff:
        out.print(f"efficiency on {doc['this_machine']['device']}: {eff['value']:.1%} ({eff['source']})")
    mt = doc["this_machine"]["measured_time_to_train"]
    if mt:
        out.print(f"time-to-train measured here: {human_seconds(mt['value'])} ({mt['source']})")
    t = Table(title="predicted time-to-train per candidate" + (
        f" (target {human_seconds(doc['target_s'])})" if doc["target_s"] else ""))
    for c in ("device", "devices", "time to train", "step", "bound", "memory/device", "CPU cores/device", "RAM/node",
              "storage/node", "network/node"):
        t.add_column(c, justify="right" if c not in ("device", "bound") else "left")
    for p in doc["candidates"]:
        nodes_txt = f"{p['per_node']}x{p['nodes']}" if p["nodes"] > 1 else str(p["devices"])
        t.add_row(p["device"], nodes_txt, human_seconds(p["time_to_train"]["value"]),
                  human_seconds(p["step_time"]["value"]), p["bound"],
                  fmt(p["memory_per_device"]["value"], "bytes") + ("" if p["fits"] else " (too big)"),
                  f"{p['cpu_cores_per_device']['value']:.1f}", fmt(p["ram_per_node"]["value"], "bytes"),
                  fmt(p["storage_bw_per_node"]["value"], "bytes") + "/s",
                  f"{p['network_per_node']['value']:.3g} Gb/s" if p["nodes"] > 1 else "-")
    out.print(t)
    effs = {p["device"]: p["efficiency"] for p in doc["candidates"]}
    for name, e in effs.items():
        out.print(f"[dim]{name}: efficiency {e['value']:.1%} ({e['source']})[/dim]", highlight=False, soft_wrap=True)
    for line in doc["advice"]:
        out.print(line, highlight=False, soft_wrap=True)
    out.print("[dim]every number's basis: --json (workload.*.source, candidates[].*.source, assumptions)[/dim]")
