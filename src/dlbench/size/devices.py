"""The table of candidate devices: shipped rows (devices.yaml), user rows, and this machine's own CPU.

A row is what the sizing model needs of a device: peak dense FLOP/s per precision, memory and its
bandwidth, the link to its peers, PCIe generation, power, and the public page the numbers come from.
Names are matched case-insensitively, ignoring '-', '_' and spaces, against the name and its aliases; an
unknown name is a UserError that lists the close ones.
"""
from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from dlbench.config.base import Section
from dlbench.errors import UserError

TABLE = Path(__file__).resolve().parent / "devices.yaml"
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


class Peak(Section):
    fp32: float = Field(gt=0)
    tf32: float | None = Field(None, gt=0)
    bf16: float | None = Field(None, gt=0)
    fp16: float | None = Field(None, gt=0)


class Device(Section):
    name: str
    aliases: list[str] = []
    kind: Literal["gpu", "cpu"]
    tflops: Peak
    """Peak dense TFLOP/s per precision."""
    memory_gb: float = Field(gt=0)
    memory_bw_gbs: float = Field(gt=0)
    interconnect: str = ""
    interconnect_gbs: float = Field(gt=0)
    """GB/s one device sends to its peers per direction: the intra-server all-reduce link."""
    pcie_gen: int | None = None
    tdp_w: float | None = None
    cores: int | None = None
    base_ghz: float | None = None
    derivation: str = ""
    source: str = Field(min_length=4)
    """Public page the numbers come from (or how they were measured/derived, for this machine)."""

    def peak_flops(self, precision: str) -> tuple[float, str]:
        """(FLOP/s, which column): bf16/fp16 fall back to fp32 where the device has no 16-bit rate."""
        v = getattr(self.tflops, precision, None)
        if v:
            return v * 1e12, precision
        return self.tflops.fp32 * 1e12, "fp32"


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


def _parse(rows, origin: str) -> list[Device]:
    if not isinstance(rows, list):
        raise UserError(f"{origin}: expected a YAML list of device rows", "see src/dlbench/size/devices.yaml")
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(Device.model_validate(row))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(f"{origin}: row {i + 1}: {where}: {first['msg']}",
                            "each row needs name, kind, tflops.fp32, memory_gb, memory_bw_gbs, interconnect_gbs, "
                            "source") from None
    return out


@functools.lru_cache(maxsize=1)
def shipped() -> tuple[Device, ...]:
    return tuple(_parse(yaml.safe_load(TABLE.read_text()), str(TABLE)))


def load_user_rows(path: str | Path) -> list[Device]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise UserError(f"--devices {p}: cannot read it ({e.strerror or e})", "pass a YAML file of device rows") from None
    try:
        rows = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"--devices {p}: not valid YAML ({str(e).splitlines()[0]})") from None
    return _parse(rows, f"--devices {p}")


def table(user_file: str | Path | None = None) -> list[Device]:
    """Shipped rows, with user rows added (a user row replaces a shipped one of the same name)."""
    rows = {_key(d.name): d for d in shipped()}
    for d in load_user_rows(user_file) if user_file else []:
        rows[_key(d.name)] = d
    return list(rows.values())


def find(name: str, rows: list[Device]) -> Device:
    k = _key(name)
    for d in rows:
        if k == _key(d.name) or k in {_key(a) for a in d.aliases}:
            return d
    names = [d.name for d in rows]
    by_key = {_key(n): n for d in rows for n in (d.name, *d.aliases)}
    close = difflib.get_close_matches(k, list(by_key), n=4, cutoff=0.5)
    close_names = list(dict.fromkeys(next(d.name for d in rows if by_key[c] in (d.name, *d.aliases)) for c in close))
    hint = (f"close: {', '.join(close_names)}" if close_names else f"known: {', '.join(names)}")
    raise UserError(f"unknown device '{name}'", f"{hint}; add your own row with --devices FILE.yaml")


def parse_names(text: str | None, rows: list[Device]) -> list[Device]:
    if not text:
        return []
    return list({d.name: d for d in (find(n.strip(), rows) for n in text.split(",") if n.strip())}.values())


# -- this machine --------------------------------------------------------------------
FMA_UNITS = 2  # assumed: current x86 server cores issue two FMAs per cycle


def cpu_flops_per_cycle(flags: set[str]) -> tuple[int, int | None, str]:
    """(FP32 FLOP/cycle/core, BF16 FLOP/cycle/core or None, how): 2 (FMA) x lanes x FMA units."""
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags and "fma" in flags:
        lanes, isa = 8, "AVX2+FMA"
    elif "avx" in flags:
        lanes, isa = 8, "AVX (no FMA)"
        return lanes * FMA_UNITS, None, f"{isa}: {lanes} lanes x {FMA_UNITS} units, no FMA"
    else:
        lanes, isa = 4, "SSE"
        return lanes * FMA_UNITS, None, f"{isa}: {lanes} lanes x {FMA_UNITS} units, no FMA"
    fp32 = 2 * lanes * FMA_UNITS
    bf16 = 1024 if "amx_bf16" in flags else (2 * fp32 if "avx512_bf16" in flags else None)
    how = f"{isa}: 2 x {lanes} lanes x {FMA_UNITS} FMA units = {fp32} FP32 FLOP/cycle"
    if bf16:
        how += f"; BF16 {bf16} FLOP/cycle ({'AMX' if 'amx_bf16' in flags else 'AVX512_BF16'})"
    return fp32, bf16, how


def this_cpu(inventory: dict, threads: int | None = None) -> Device:
    """A row for the CPU of this machine, from the inventory: peak from cores x clock x FLOP/cycle.

    threads: how many cores training uses (train.threads); default all physical cores."""
    cpu = inventory.get("cpu") or {}
    flags = set(cpu.get("flags") or [])
    per_cycle, bf16_cycle, how = cpu_flops_per_cycle(flags)
    cores_all = cpu.get("physical_cores") or cpu.get("threads") or 1
    cores = min(threads, cores_all) if threads else cores_all
    ghz = (cpu.get("max_mhz") or 0) / 1000 or 2.0
    clock_note = f"{ghz:.2f} GHz (psutil max frequency)" if cpu.get("max_mhz") else "2.0 GHz (assumed: clock unknown)"
    fp32 = cores * ghz * per_cycle / 1e3
    bf16 = cores * ghz * bf16_cycle / 1e3 if bf16_cycle else None
    ram_gb = (inventory.get("ram_bytes") or 0) / 1e9 or 1.0
    return Device(name="this-cpu", aliases=[str(cpu.get("model") or "this machine")], kind="cpu",
                  tflops=Peak(fp32=fp32, bf16=bf16), memory_gb=ram_gb, memory_bw_gbs=20.0,
                  interconnect="host memory", interconnect_gbs=20.0, cores=cores, base_ghz=ghz,
                  derivation=f"{cores} cores x {clock_note} x ({how})",
                  source=f"this machine: {cpu.get('model')} (inventory; peak derived, memory bandwidth assumed 20 GB/s)")
