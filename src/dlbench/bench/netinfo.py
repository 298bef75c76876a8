"""Network adapters, RDMA devices and NUMA placement, read from sysfs (Linux).

    /sys/class/net/<if>/{speed,operstate,mtu,address,type}   link speed in Mb/s (-1: unknown/virtual)
    /sys/class/net/<if>/device -> the PCI (or virtio) device; its numa_node (-1: no NUMA information)
    /sys/class/infiniband/<dev>/ports/<n>/{rate,state,link_layer}   e.g. "400 Gb/sec (4X NDR)", "4: ACTIVE"
    /sys/bus/pci/devices/<domain:bus:dev.fn>/numa_node        NUMA node of a GPU (from NVML's PCI bus id)

Every function takes the sysfs root, so tests run them on a fake tree. Nothing here raises: a field that
cannot be read is None.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ARPHRD = {"1": "ethernet", "32": "infiniband", "772": "loopback"}


def _read(p: Path) -> str | None:
    try:
        return p.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _numa(dev: Path, levels: int = 4) -> int | None:
    """numa_node of a device, else of its nearest parent that has one (a virtio NIC's is on its PCI device)."""
    if not dev.exists():
        return None
    d = dev.resolve()
    for _ in range(levels):
        v = _read(d / "numa_node")
        if v is not None:
            try:
                n = int(v)
            except ValueError:
                return None
            return n if n >= 0 else None
        d = d.parent
    return None


def nics(root: str | Path = "/sys/class/net") -> list[dict]:
    """Physical network adapters (those with a device behind them; lo, bridges, veth and ifb are skipped)."""
    out = []
    base = Path(root)
    for iface in sorted(base.iterdir()) if base.is_dir() else []:
        dev = iface / "device"
        if not dev.exists():
            continue  # virtual interface
        speed = _read(iface / "speed")
        try:
            mbps = int(speed) if speed is not None else None
        except ValueError:
            mbps = None
        driver = os.path.basename(os.path.realpath(dev / "driver")) if (dev / "driver").exists() else None
        real = os.path.realpath(dev)
        pci = next((part for part in reversed(real.split("/")) if re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d", part)), None)
        out.append({
            "name": iface.name,
            "kind": ARPHRD.get(_read(iface / "type") or "", "other"),
            "state": _read(iface / "operstate"),
            "speed_mbps": mbps if mbps and mbps > 0 else None,
            "mtu": int(_read(iface / "mtu") or 0) or None,
            "driver": driver,
            "pci_bus_id": pci,
            "numa_node": _numa(dev),
        })
    return out


def rdma(root: str | Path = "/sys/class/infiniband") -> list[dict]:
    """RDMA devices (InfiniBand HCAs, RoCE NICs) and their ports: rate, state, link layer."""
    out = []
    base = Path(root)
    for dev in sorted(base.iterdir()) if base.is_dir() else []:
        ports = []
        for port in sorted((dev / "ports").iterdir()) if (dev / "ports").is_dir() else []:
            rate = _read(port / "rate")
            m = re.match(r"\s*([\d.]+)\s*Gb/sec", rate or "")
            state = _read(port / "state")
            ports.append({"port": port.name, "rate": rate, "gbps": float(m.group(1)) if m else None,
                          "state": state.split(":", 1)[-1].strip() if state else None,
                          "link_layer": _read(port / "link_layer")})
        netdevs = sorted(p.name for p in (dev / "device" / "net").iterdir()) if (dev / "device" / "net").is_dir() else []
        out.append({"name": dev.name, "node_type": _read(dev / "node_type"), "fw_ver": _read(dev / "fw_ver"),
                    "numa_node": _numa(dev / "device"), "netdevs": netdevs, "ports": ports})
    return out


def pci_numa(bus_id: str | None, root: str | Path = "/sys/bus/pci/devices") -> int | None:
    """NUMA node of a PCI device; NVML writes bus ids as 00000000:3B:00.0, sysfs as 0000:3b:00.0."""
    if not bus_id:
        return None
    m = re.fullmatch(r"(?:[0-9a-fA-F]*?)([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.(\d)", bus_id.strip())
    if not m:
        return None
    name = f"{m.group(1)}:{m.group(2)}:{m.group(3)}.{m.group(4)}".lower()
    v = _read(Path(root) / name / "numa_node")
    try:
        n = int(v) if v is not None else None
    except ValueError:
        return None
    return n if n is not None and n >= 0 else None


INTERESTING_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                     "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")


def cpu_flags(cpuinfo: str) -> list[str]:
    """The instruction sets that matter for training on a CPU, from /proc/cpuinfo's first `flags` line."""
    m = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", cpuinfo, re.M)
    have = set(m.group(1).split()) if m else set()
    return [f for f in INTERESTING_FLAGS if f in have]


def cpu_mhz(cpuinfo: str) -> float | None:
    """The current clock of the first CPU (a VM often hides the maximum psutil reads)."""
    m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.M)
    return float(m.group(1)) if m else None


def table_rows(t, net: dict) -> None:
    """The Network and RDMA rows of `sysinfo`'s table."""
    nics, ibs = net.get("nics") or [], net.get("rdma") or []
    if not nics:
        t.add_row("Network", "", "no physical network adapter found")
    for n in nics:
        speed = f"{n['speed_mbps'] / 1000:g} Gb/s" if n.get("speed_mbps") else "speed not reported (virtual NIC?)"
        t.add_row("Network", n["name"], f"{n.get('kind')}, {n.get('state')}, {speed}, driver {n.get('driver')}, "
                  f"NUMA node {n.get('numa_node') if n.get('numa_node') is not None else '?'}")
    for d in ibs:
        ports = "; ".join(f"port {p['port']} {p.get('state')} {p.get('rate')} ({p.get('link_layer')})" for p in d["ports"])
        t.add_row("RDMA", d["name"], f"{ports or 'no ports'}, NUMA node {d.get('numa_node')}")
    if not ibs:
        t.add_row("RDMA", "", "none (no /sys/class/infiniband devices)")
