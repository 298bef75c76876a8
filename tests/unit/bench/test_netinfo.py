"""sysfs parsers for NICs, RDMA devices and NUMA placement, on fake /sys trees; sysinfo without NICs/GPUs."""
import io
import json

from rich.console import Console

from dlbench.bench import netinfo
from dlbench.bench.netinfo import cpu_flags, cpu_mhz, nics, pci_numa, rdma


def fake_sys(tmp_path):
    """/sys/class/net with a 100 GbE NIC on NUMA node 1, an IPoIB port, lo and a bridge; one mlx5 HCA."""
    pci = tmp_path / "devices" / "pci0000:80" / "0000:81:00.0"
    (pci / "net").mkdir(parents=True)
    (pci / "numa_node").write_text("1\n")
    drv = tmp_path / "drivers" / "mlx5_core"
    drv.mkdir(parents=True)
    (pci / "driver").symlink_to(drv)
    net = tmp_path / "class" / "net"
    for name, dev, speed, typ in (("ens1f0", pci, "100000", "1"), ("ib0", pci, "400000", "32"), ("lo", None, "", "772"),
                                  ("br0", None, "-1", "1")):
        d = net / name
        d.mkdir(parents=True)
        (d / "speed").write_text(speed + "\n")
        (d / "type").write_text(typ + "\n")
        (d / "operstate").write_text("up\n")
        (d / "mtu").write_text("9000\n")
        if dev is not None:
            (d / "device").symlink_to(dev)
    ib = tmp_path / "class" / "infiniband" / "mlx5_0"
    port = ib / "ports" / "1"
    port.mkdir(parents=True)
    (port / "rate").write_text("400 Gb/sec (4X NDR)\n")
    (port / "state").write_text("4: ACTIVE\n")
    (port / "link_layer").write_text("InfiniBand\n")
    (ib / "device").symlink_to(pci)
    (pci / "net" / "ib0").mkdir()
    gpu = tmp_path / "bus" / "pci" / "devices" / "0000:3b:00.0"
    gpu.mkdir(parents=True)
    (gpu / "numa_node").write_text("0\n")
    gpu1 = tmp_path / "bus" / "pci" / "devices" / "0000:01:00.0"
    gpu1.mkdir(parents=True)
    (gpu1 / "numa_node").write_text("1\n")
    return tmp_path


def test_nics_with_speed_numa_and_kind(tmp_path):
    root = fake_sys(tmp_path)
    got = {n["name"]: n for n in nics(root / "class" / "net")}
    assert set(got) == {"ens1f0", "ib0"}  # lo and the bridge have no device behind them
    e = got["ens1f0"]
    assert e["speed_mbps"] == 100000 and e["numa_node"] == 1 and e["kind"] == "ethernet" and e["driver"] == "mlx5_core"
    assert e["pci_bus_id"] == "0000:81:00.0" and e["mtu"] == 9000
    assert got["ib0"]["kind"] == "infiniband"


def test_rdma_ports_and_gpu_numa(tmp_path):
    root = fake_sys(tmp_path)
    (d,) = rdma(root / "class" / "infiniband")
    assert d["name"] == "mlx5_0" and d["numa_node"] == 1 and d["netdevs"] == ["ib0"]
    assert d["ports"] == [{"port": "1", "rate": "400 Gb/sec (4X NDR)", "gbps": 400.0, "state": "ACTIVE",
                           "link_layer": "InfiniBand"}]
    assert pci_numa("00000000:3B:00.0", root / "bus" / "pci" / "devices") == 0
    assert pci_numa("0000:99:00.0", root / "bus" / "pci" / "devices") is None and pci_numa(None) is None


def test_no_sysfs_means_no_adapters(tmp_path):
    assert nics(tmp_path / "none") == [] and rdma(tmp_path / "none") == []


def test_cpu_flags_and_clock_from_cpuinfo():
    info = "processor : 0\ncpu MHz : 2596.1\nflags : fpu sse4_2 avx avx2 fma avx512f amx_tile amx_bf16 foo\n"
    assert cpu_flags(info) == ["sse4_2", "avx", "avx2", "fma", "avx512f", "amx_tile", "amx_bf16"]
    assert cpu_mhz(info) == 2596.1 and cpu_flags("") == []


def test_sysinfo_on_a_machine_without_nics_or_gpus(monkeypatch):
    import pynvml

    from dlbench.bench.sysinfo import collect_inventory, inventory_table

    monkeypatch.setattr(pynvml, "nvmlInit", lambda: (_ for _ in ()).throw(pynvml.NVMLError(1)))
    monkeypatch.setattr(netinfo, "nics", lambda: [])
    monkeypatch.setattr(netinfo, "rdma", lambda: [])
    inv = collect_inventory()
    json.dumps(inv)
    assert inv["network"] == {"nics": [], "rdma": []} and inv["gpus"] == []
    out = io.StringIO()
    Console(file=out, width=140).print(inventory_table(inv))
    assert "no physical network adapter found" in out.getvalue() and "none (no /sys/class/infiniband" in out.getvalue()


def test_gpu_numa_node_through_nvml(monkeypatch, tmp_path):
    from dlbench.bench.sysinfo import collect_inventory
    from tests.unit.bench.test_bench_sysinfo import fake_nvml

    fake_nvml(monkeypatch)
    root = fake_sys(tmp_path)
    monkeypatch.setattr(netinfo, "pci_numa", lambda bus: pci_numa(bus, root / "bus" / "pci" / "devices"))
    monkeypatch.setattr(netinfo, "nics", lambda: nics(root / "class" / "net"))
    inv = collect_inventory()
    assert [g["numa_node"] for g in inv["gpus"]] == [None, 1]  # GPU 0's bus 0000:00:00.0 is not in the fake tree
    assert inv["network"]["nics"][0]["numa_node"] == 1
    assert inv["gpus"][1]["nics_same_numa"] == ["ens1f0", "ib0"] and inv["gpus"][0]["nics_same_numa"] == []
