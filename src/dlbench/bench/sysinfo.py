"""Hardware and software inventory, stored with every benchmark result.

Time-to-train means little without the machine it was measured on, so this records what
changes it: CPU, NUMA, RAM, each GPU and its PCIe link (a GPU in an x4 slot or trained
down to Gen1 is a common silent slowdown), GPU-to-GPU topology, the storage the data is
read from, and the torch/CUDA/cuDNN stack. It never raises: a machine without GPUs, NVML
or nvidia-smi is a normal machine, reported as such.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psutil

NO_GPU = "no GPU"


def _try(fn, default=None):
    try:
        return fn()
    except Exception:  # inventory is best effort: one unreadable field must not lose the rest
        return default


# -- host ----------------------------------------------------------------------------
def _cpu_model() -> str:
    text = _try(lambda: Path("/proc/cpuinfo").read_text(), "")
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else (platform.processor() or platform.machine())


def _sockets() -> int | None:
    text = _try(lambda: Path("/proc/cpuinfo").read_text(), "")
    ids = set(re.findall(r"^physical id\s*:\s*(\d+)$", text, re.M))
    return len(ids) or None


def _numa_nodes() -> int | None:
    nodes = _try(lambda: [p for p in os.listdir("/sys/devices/system/node") if re.fullmatch(r"node\d+", p)])
    return len(nodes) if nodes else None


def _cpu_caches() -> str:
    """e.g. "L1d 48K, L1i 32K, L2 2048K, L3 107520K" for cpu0 (per core / shared)."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    out = []
    for idx in sorted(_try(lambda: list(base.glob("index*")), [])):
        level = _try(lambda: (idx / "level").read_text().strip())
        kind = _try(lambda: (idx / "type").read_text().strip(), "")
        size = _try(lambda: (idx / "size").read_text().strip())
        if level and size:
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            out.append(f"L{level}{suffix} {size}")
    return ", ".join(out)


def _host() -> dict:
    from dlbench.bench.netinfo import cpu_flags, cpu_mhz

    info = _try(lambda: Path("/proc/cpuinfo").read_text(), "")
    mem = psutil.virtual_memory().total
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu": {
            "model": _cpu_model(),
            "sockets": _sockets(),
            "physical_cores": psutil.cpu_count(logical=False),
            "threads": psutil.cpu_count(logical=True),
            "numa_nodes": _numa_nodes(),
            "max_mhz": _try(lambda: psutil.cpu_freq().max or None) or cpu_mhz(info),
            "caches": _cpu_caches(),
            "flags": cpu_flags(info),
        },
        "ram_bytes": mem,
    }


# -- storage -------------------------------------------------------------------------
def _rotational(device: str) -> bool | None:
    """From /sys/block/<disk>/queue/rotational; a partition's flag lives on its disk."""
    if not device.startswith("/dev/"):
        return None  # tmpfs, overlay, network filesystems
    name = Path(os.path.realpath(device)).name  # /dev/mapper/x -> dm-0
    sys_dev = Path("/sys/class/block") / name
    if not sys_dev.exists():
        return None
    sys_dev = sys_dev.resolve()
    if (sys_dev / "partition").exists():
        sys_dev = sys_dev.parent
    flag = _try(lambda: (sys_dev / "queue" / "rotational").read_text().strip())
    return None if flag is None else flag == "1"


def _storage(data_path: str | None) -> dict:
    path = Path(data_path or os.getcwd()).expanduser().absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:  # the data may not be written yet
        probe = probe.parent
    real = os.path.realpath(probe)
    parts = _try(lambda: psutil.disk_partitions(all=True), [])
    best = None
    for p in parts:
        mp = p.mountpoint
        if (real == mp or real.startswith(mp.rstrip("/") + "/")) and (best is None or len(mp) > len(best.mountpoint)):
            best = p
    usage = _try(lambda: psutil.disk_usage(real))
    return {
        "path": str(path),
        "mount_point": best.mountpoint if best else None,
        "filesystem": best.fstype if best else None,
        "device": best.device if best else None,
        "rotational": _rotational(best.device) if best else None,
        "total_bytes": usage.total if usage else None,
        "free_bytes": usage.free if usage else None,
    }


# -- GPUs ----------------------------------------------------------------------------
def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _nvml_gpus() -> tuple[list[dict], dict, str | None]:
    """(gpus, driver info, error). NVML is the driver's own library: no CUDA context needed."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as e:
        return [], {}, f"{type(e).__name__}: {e}"
    try:
        cuda = _try(pynvml.nvmlSystemGetCudaDriverVersion_v2)
        driver = {
            "driver_version": _try(lambda: _text(pynvml.nvmlSystemGetDriverVersion())),
            "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None,
        }
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            cc = _try(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(h))
            gpus.append({
                "index": i,
                "name": _try(lambda: _text(pynvml.nvmlDeviceGetName(h))),
                "uuid": _try(lambda: _text(pynvml.nvmlDeviceGetUUID(h))),
                "pci_bus_id": _try(lambda: _text(pynvml.nvmlDeviceGetPciInfo(h).busId)),
                "memory_bytes": _try(lambda: int(pynvml.nvmlDeviceGetMemoryInfo(h).total)),
                "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
                "pcie": {
                    "gen_current": _try(lambda: pynvml.nvmlDeviceGetCurrPcieLinkGeneration(h)),
                    "gen_max": _try(lambda: pynvml.nvmlDeviceGetMaxPcieLinkGeneration(h)),
                    "width_current": _try(lambda: pynvml.nvmlDeviceGetCurrPcieLinkWidth(h)),
                    "width_max": _try(lambda: pynvml.nvmlDeviceGetMaxPcieLinkWidth(h)),
                },
                "nvlink": _nvlinks(pynvml, h),
                **driver,
            })
        return gpus, driver, None
    except Exception as e:
        return [], {}, f"{type(e).__name__}: {e}"
    finally:
        _try(pynvml.nvmlShutdown)


def _nvlinks(pynvml, h) -> list[dict]:
    """Active NVLinks and the PCI bus id at their far end; [] where NVLink is absent."""
    links = []
    for link in range(pynvml.NVML_NVLINK_MAX_LINKS):
        state = _try(lambda: pynvml.nvmlDeviceGetNvLinkState(h, link))
        if state is None:
            break  # NotSupported: no (more) links on this device
        if state != pynvml.NVML_FEATURE_ENABLED:
            continue
        links.append({
            "link": link,
            "version": _try(lambda: pynvml.nvmlDeviceGetNvLinkVersion(h, link)),
            "remote_pci_bus_id": _try(lambda: _text(pynvml.nvmlDeviceGetNvLinkRemotePciInfo(h, link).busId)),
        })
    return links


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_topo_matrix(text: str) -> dict:
    """Parse `nvidia-smi topo -m` into {"devices", "matrix", "affinity"}.

    matrix[a][b] is the link from device a to b (X, NV#, PIX, PXB, PHB, NODE, SYS);
    affinity[a] holds the other columns (CPU Affinity, NUMA Affinity...). Columns are
    tab separated, and some column names contain spaces.
    """
    lines = [_ANSI.sub("", l).rstrip() for l in text.splitlines()]
    # The header is the first line starting with GPU0 that is not GPU0's own row (no "X").
    header_i = next((i for i, l in enumerate(lines)
                     if re.match(r"^\s*GPU0\b", l) and "X" not in l.split()), None)
    if header_i is None:
        return {"devices": [], "matrix": {}, "affinity": {}}
    header = [c.strip() for c in re.split(r"\t+", lines[header_i].strip())]
    rows = {}
    for line in lines[header_i + 1:]:
        if not line.strip() or line.lstrip().startswith("Legend"):
            break
        cells = [c.strip() for c in re.split(r"\t+", line.strip())]
        rows[cells[0]] = cells[1:]
    devices = [c for c in header if c in rows]
    matrix, affinity = {}, {}
    for name, cells in rows.items():
        matrix[name] = {col: val for col, val in zip(header, cells) if col in rows}
        affinity[name] = {col: val for col, val in zip(header, cells) if col not in rows}
    return {"devices": devices, "matrix": matrix, "affinity": affinity}


def _topology() -> dict | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "topo", "-m"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip()[:500]}
    return {"raw": _ANSI.sub("", out.stdout), **parse_topo_matrix(out.stdout)}


# -- software ------------------------------------------------------------------------
def _torch() -> dict:
    try:
        import torch
    except Exception as e:
        return {"torch": None, "error": str(e)}
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": _try(lambda: torch.backends.cudnn.version()),
        "cuda_available": _try(torch.cuda.is_available, False),
    }


def collect_inventory(data_path: str | None = None, measure: bool = False, measure_bytes: int = 256 << 20,
                      measure_seconds: float = 10.0) -> dict:
    """JSON-serializable inventory of this machine; `data_path` (default: the current
    directory) selects which storage is described; `measure` adds its read bandwidth (readtest.py,
    bounded by measure_bytes per pass and measure_seconds; a bad path is a UserError)."""
    from dlbench.bench.netinfo import nics, pci_numa, rdma

    read_test = None
    if measure:
        from dlbench.bench.readtest import measure_read

        read_test = measure_read(data_path or os.getcwd(), measure_bytes, measure_seconds)
    inv = _host()
    gpus, driver, err = _nvml_gpus()
    for g in gpus:
        g["numa_node"] = pci_numa(g.get("pci_bus_id"))
    inv["gpus"] = gpus
    if not gpus:
        inv["gpu_note"] = NO_GPU
        if err:
            inv["nvml_error"] = err
    inv["driver"] = driver
    inv["gpu_topology"] = _topology() if gpus else None
    inv["storage"] = _storage(data_path)
    if read_test:
        inv["storage"]["read_test"] = read_test
    inv["network"] = {"nics": _try(nics, []), "rdma": _try(rdma, [])}
    # GPU <-> NIC affinity by NUMA node: traffic between a GPU and a NIC on another node crosses the CPU interconnect
    adapters = inv["network"]["nics"] + inv["network"]["rdma"]
    for g in gpus:
        g["nics_same_numa"] = [a["name"] for a in adapters
                               if g.get("numa_node") is not None and a.get("numa_node") == g.get("numa_node")]
    inv["software"] = _torch()
    gpu_mem = sum(g["memory_bytes"] or 0 for g in gpus)
    # Host RAM per GPU memory: below ~1-2x, pinned staging buffers and dataloader
    # workers start to compete with the page cache for the dataset.
    inv["ram_to_gpu_memory_ratio"] = round(inv["ram_bytes"] / gpu_mem, 3) if gpu_mem else None
    return inv


# -- presentation --------------------------------------------------------------------
def _gib(n: int | None) -> str:
    return "?" if not n else f"{n / 2**30:.1f} GiB"


def inventory_table(inv: dict):
    """A rich Table of the inventory, for `dlbench sysinfo`."""
    from rich.table import Table

    t = Table(title="System inventory", show_lines=False)
    t.add_column("Component", style="bold")
    t.add_column("Item")
    t.add_column("Value")
    cpu = inv.get("cpu", {})
    t.add_row("CPU", "model", str(cpu.get("model")))
    t.add_row("", "sockets / cores / threads",
              f"{cpu.get('sockets')} / {cpu.get('physical_cores')} / {cpu.get('threads')}")
    t.add_row("", "NUMA nodes", str(cpu.get("numa_nodes")))
    t.add_row("", "instruction sets", ", ".join(f for f in cpu.get("flags") or [] if f.startswith(("avx", "amx", "fma")))
              or "none of AVX/AVX-512/AMX")
    t.add_row("RAM", "total", _gib(inv.get("ram_bytes")))
    if not inv.get("gpus"):
        t.add_row("GPU", "", inv.get("gpu_note", NO_GPU))
    for g in inv.get("gpus", []):
        p = g.get("pcie", {})
        t.add_row(f"GPU {g['index']}", "model", f"{g.get('name')} (sm {g.get('compute_capability')})")
        t.add_row("", "memory", _gib(g.get("memory_bytes")))
        t.add_row("", "PCIe now / max",
                  f"Gen{p.get('gen_current')} x{p.get('width_current')} / Gen{p.get('gen_max')} x{p.get('width_max')}")
        if g.get("nvlink"):
            t.add_row("", "NVLink", f"{len(g['nvlink'])} active links")
        t.add_row("", "NUMA node / NICs on it", f"{g.get('numa_node', '?')} / "
                  f"{', '.join(g.get('nics_same_numa') or []) or 'none'}")
    drv = inv.get("driver") or {}
    if drv:
        t.add_row("Driver", "NVIDIA / CUDA", f"{drv.get('driver_version')} / {drv.get('cuda_driver_version')}")
    topo = (inv.get("gpu_topology") or {}).get("matrix") or {}
    for a, row in topo.items():
        links = ", ".join(f"{b}:{v}" for b, v in row.items() if v != "X")
        if links:
            t.add_row("Topology", a, links)
    st = inv.get("storage") or {}
    rot = {True: "rotational", False: "non-rotational", None: "unknown"}[st.get("rotational")]
    t.add_row("Storage", str(st.get("path")),
              f"{st.get('filesystem')} on {st.get('device')} at {st.get('mount_point')} ({rot})")
    rt = st.get("read_test")
    if rt:
        mb = lambda r: "?" if not r.get("bytes_per_s") else f"{r['bytes_per_s'] / 1e6:.0f} MB/s"  # noqa: E731
        t.add_row("", "read (sequential / random)", f"{mb(rt['sequential'])} (1 MiB) / {mb(rt['random'])} (128 KiB, "
                  f"{rt['random'].get('iops') or 0:.0f} IOPS); {rt['cache_bypass']}, {rt['file']}")
    from dlbench.bench.netinfo import table_rows

    table_rows(t, inv.get("network") or {})
    sw = inv.get("software") or {}
    t.add_row("Software", "torch / CUDA / cuDNN", f"{sw.get('torch')} / {sw.get('cuda')} / {sw.get('cudnn')}")
    t.add_row("", "OS / Python", f"{inv.get('os')} / {inv.get('python')}")
    ratio = inv.get("ram_to_gpu_memory_ratio")
    t.add_row("Ratio", "RAM : GPU memory", "n/a (no GPU)" if ratio is None else f"{ratio:.2f}")
    return t
