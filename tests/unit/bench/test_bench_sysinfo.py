import io
import json

import pynvml
from rich.console import Console

from dlbench.bench.sysinfo import collect_inventory, inventory_table, parse_topo_matrix
from dlbench.bench.system_desc import system_description


def no_nvml(monkeypatch):
    def fail():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", fail)


def test_without_gpu_reports_no_gpu_and_is_json(monkeypatch, tmp_path):
    no_nvml(monkeypatch)
    inv = collect_inventory(str(tmp_path / "not-yet-written"))
    assert inv["gpus"] == [] and inv["gpu_note"] == "no GPU"
    assert inv["ram_to_gpu_memory_ratio"] is None
    assert inv["cpu"]["threads"] >= 1 and inv["ram_bytes"] > 0
    assert inv["storage"]["mount_point"] is not None
    json.dumps(inv)


def test_this_machine_inventory_is_json_serializable():
    inv = collect_inventory()
    json.loads(json.dumps(inv))
    if not inv["gpus"]:
        assert inv["gpu_note"] == "no GPU"
    out = io.StringIO()
    Console(file=out, width=120).print(inventory_table(inv))
    assert "CPU" in out.getvalue()


def test_system_description_passes_mlperf_checker(monkeypatch, tmp_path):
    from mlperf_logging.system_desc_checker.system_desc_checker import check_system_desc

    no_nvml(monkeypatch)
    desc = system_description(collect_inventory(), "cpu-box", submitter="acme")
    path = tmp_path / "cpu-box.json"
    path.write_text(json.dumps(desc))
    valid, name, _, _ = check_system_desc(str(path), "training", "6.1.0")
    assert valid and name == "cpu-box"
    assert desc["accelerators_per_node"] == "0"


TOPO = (
    "\t\x1b[4mGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m\n"
    "GPU0\t X \tNV18\tPXB\t0-55,112-167\t0\t\tN/A\n"
    "GPU1\tNV18\t X \tSYS\t0-55,112-167\t0\t\tN/A\n"
    "NIC0\tPXB\tSYS\t X \t\t\t\t\n"
    "\nLegend:\n\n  X    = Self\n"
)


def test_parse_topo_matrix():
    t = parse_topo_matrix(TOPO)
    assert t["devices"] == ["GPU0", "GPU1", "NIC0"]
    assert t["matrix"]["GPU0"] == {"GPU0": "X", "GPU1": "NV18", "NIC0": "PXB"}
    assert t["matrix"]["GPU1"]["NIC0"] == "SYS"
    assert t["affinity"]["GPU1"]["CPU Affinity"] == "0-55,112-167"
    assert parse_topo_matrix("garbage") == {"devices": [], "matrix": {}, "affinity": {}}


def fake_nvml(monkeypatch, n_gpus=2):
    """A two-GPU NVML, to exercise the GPU path on machines without one."""
    from types import SimpleNamespace as NS

    def not_supported(*_):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def nvlink_state(h, link):
        return pynvml.NVML_FEATURE_ENABLED if link < 2 else not_supported()

    fns = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: "550.54.15",
        "nvmlSystemGetCudaDriverVersion_v2": lambda: 12040,
        "nvmlDeviceGetCount": lambda: n_gpus,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: b"NVIDIA H200",
        "nvmlDeviceGetUUID": lambda h: f"GPU-{h}",
        "nvmlDeviceGetPciInfo": lambda h: NS(busId=f"00000000:0{h}:00.0".encode()),
        "nvmlDeviceGetMemoryInfo": lambda h: NS(total=141 * 2**30),
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetCurrPcieLinkGeneration": lambda h: 5,
        "nvmlDeviceGetMaxPcieLinkGeneration": lambda h: 5,
        "nvmlDeviceGetCurrPcieLinkWidth": lambda h: 16,
        "nvmlDeviceGetMaxPcieLinkWidth": lambda h: 16,
        "nvmlDeviceGetNvLinkState": nvlink_state,
        "nvmlDeviceGetNvLinkVersion": lambda h, l: 4,
        "nvmlDeviceGetNvLinkRemotePciInfo": lambda h, l: NS(busId=b"00000000:01:00.0"),
    }
    for name, fn in fns.items():
        monkeypatch.setattr(pynvml, name, fn)
    monkeypatch.setattr("dlbench.bench.sysinfo.shutil.which", lambda _: None)


def test_gpu_inventory_through_nvml(monkeypatch):
    fake_nvml(monkeypatch)
    inv = collect_inventory()
    json.dumps(inv)
    assert "gpu_note" not in inv and len(inv["gpus"]) == 2
    g = inv["gpus"][1]
    assert g["name"] == "NVIDIA H200" and g["compute_capability"] == "9.0"
    assert g["cuda_driver_version"] == "12.4" and g["driver_version"] == "550.54.15"
    assert g["pcie"] == {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16}
    assert [l["link"] for l in g["nvlink"]] == [0, 1]
    assert inv["ram_to_gpu_memory_ratio"] == round(inv["ram_bytes"] / (2 * 141 * 2**30), 3)
    desc = system_description(inv, "h200x2")
    assert desc["accelerators_per_node"] == "2" and desc["accelerator_model_name"] == "NVIDIA H200"
    assert desc["accelerator_host_interconnect"] == "PCIe Gen5 x16"
    assert desc["accelerator_memory_capacity"] == "141 GB"
    out = io.StringIO()
    Console(file=out, width=120).print(inventory_table(inv))
    assert "Gen5 x16" in out.getvalue()
