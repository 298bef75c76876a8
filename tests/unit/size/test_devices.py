"""The device table: every row sourced, names matched loosely, user rows, and this CPU's derived peak."""
import pytest
import yaml

from dlbench.errors import UserError
from dlbench.size.devices import cpu_flops_per_cycle, find, parse_names, shipped, table, this_cpu


def test_every_shipped_row_has_a_public_source_and_sane_numbers():
    rows = shipped()
    assert {"H100-SXM", "H200-SXM", "A100-80GB", "L40S", "L4", "EPYC-9654", "Xeon-8480+"} <= {d.name for d in rows}
    for d in rows:
        assert d.source.startswith("https://"), d.name
        assert d.tflops.fp32 > 0 and d.memory_gb > 0 and d.interconnect_gbs > 0
        if d.kind == "gpu":
            assert d.tflops.bf16 >= d.tflops.fp32 and d.tdp_w and d.pcie_gen
        else:
            assert d.derivation and d.cores
    h100 = find("H100", list(rows))
    assert h100.peak_flops("bf16") == (989.5e12, "bf16")
    assert find("nvidia a100-sxm4-80gb", list(rows)).name == "A100-80GB"


def test_unknown_device_lists_the_close_ones():
    with pytest.raises(UserError) as e:
        find("H1000", list(shipped()))
    assert "unknown device 'H1000'" in str(e.value) and "H100-SXM" in str(e.value) and "--devices" in str(e.value)
    with pytest.raises(UserError):
        parse_names("H100,Z9", list(shipped()))


def test_user_rows_add_and_replace(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump([
        {"name": "MI300X", "kind": "gpu", "tflops": {"fp32": 163.4, "bf16": 1307.4}, "memory_gb": 192,
         "memory_bw_gbs": 5300, "interconnect_gbs": 448, "source": "https://www.amd.com/mi300x"},
        {"name": "L4", "kind": "gpu", "tflops": {"fp32": 1}, "memory_gb": 1, "memory_bw_gbs": 1,
         "interconnect_gbs": 1, "source": "my lab measurement"}]))
    rows = table(f)
    assert find("mi300x", rows).tflops.bf16 == 1307.4 and find("L4", rows).tflops.fp32 == 1
    assert len(rows) == len(shipped()) + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([{"name": "X", "kind": "gpu", "tflops": {"fp32": 1}, "memory_gb": 1,
                                    "memory_bw_gbs": 1, "interconnect_gbs": 1}]))
    with pytest.raises(UserError, match="row 1: source"):
        table(bad)
    with pytest.raises(UserError, match="cannot read"):
        table(tmp_path / "missing.yaml")


def test_this_cpu_peak_from_its_instruction_sets():
    assert cpu_flops_per_cycle({"avx512f", "avx2", "fma"})[:2] == (64, None)
    assert cpu_flops_per_cycle({"avx2", "fma"})[0] == 32
    assert cpu_flops_per_cycle({"avx512f", "amx_bf16"})[1] == 1024
    inv = {"cpu": {"model": "Test CPU", "physical_cores": 8, "max_mhz": 2500.0, "flags": ["avx2", "fma"]},
           "ram_bytes": 64e9}
    d = this_cpu(inv, threads=2)
    assert d.tflops.fp32 == pytest.approx(2 * 2.5 * 32 / 1e3) and d.cores == 2
    assert "2 cores x 2.50 GHz" in d.derivation and "AVX2+FMA" in d.derivation


def test_this_machines_gpu_is_found_by_its_nvml_name_or_left_uncalibrated():
    from dlbench.size.plan import _this_device

    rows = list(shipped())
    assert _this_device({"gpus": [{"name": "NVIDIA H100 80GB HBM3"}]}, "cuda", 1, rows)[0].name == "H100-SXM"
    assert _this_device({"gpus": [{"name": "NVIDIA A100-SXM4-80GB"}]}, "cuda", 1, rows)[0].name == "A100-80GB"
    assert _this_device({"gpus": [{"name": "NVIDIA Quadro X"}]}, "cuda", 1, rows) == (None, "NVIDIA Quadro X")
    cpu, name = _this_device({"cpu": {"physical_cores": 4, "flags": ["avx2", "fma"]}}, "cpu", 2, rows)
    assert name == "this-cpu" and cpu.cores == 2
