"""`dlbench size` and `dlbench sysinfo --measure` end to end, on a tiny config."""
import json

import pytest

from tests.conftest import tiny


@pytest.fixture
def cfg_path(write_yaml):
    return write_yaml(tiny("digits", "mlp", steps=300, threads=1))


def test_size_json_every_number_has_a_source_and_the_plot_is_written(run_cli, cfg_path, tmp_path):
    png = tmp_path / "curves.png"
    code, out, err = run_cli("size", cfg_path, "--gpus", "H100,L40S", "--nodes", "1,2", "--profile-seconds", "1",
                             "--target-time", "1h", "--plot", png, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert png.is_file() and png.stat().st_size > 1000
    w = doc["workload"]
    assert w["samples"]["value"] == 300 * 32 and "the config's length" in w["samples"]["source"]
    assert "flop_counter" in w["flops_per_sample"]["source"] and w["flops_per_sample"]["value"] > 0
    assert "estimated from the model" in w["peak_memory_bytes"]["source"]
    assert doc["efficiency"]["source"].startswith("measured:") and doc["this_machine"]["device"] == "this-cpu"
    devices = {(p["device"], p["devices"]) for p in doc["candidates"]}
    assert {("this-cpu", 1), ("H100-SXM", 1), ("H100-SXM", 8), ("H100-SXM", 16), ("L40S", 8)} <= devices
    for p in doc["candidates"]:
        for key in ("time_to_train", "step_time", "cpu_cores_per_device", "ram_per_node", "storage_bw_per_node",
                    "network_per_node", "memory_per_device"):
            assert p[key]["source"], (p["device"], key)
    assert doc["advice"] and "meeting the target" in " ".join(doc["advice"])
    assert set(doc["curves"]) == {"this-cpu", "H100-SXM", "L40S"}


def test_size_console_table(run_cli, cfg_path):
    code, out, err = run_cli("size", cfg_path, "--gpus", "L4", "--profile-seconds", "0", "-o", "train.batch_size=16")
    assert code == 0, err
    assert "predicted time-to-train" in out and "L4" in out and "flop" in out.lower()
    assert "4.8e+03 samples" in out  # 300 steps x the overridden batch of 16


def test_bad_input_is_one_line_exit_2(run_cli, cfg_path, tmp_path):
    code, _, err = run_cli("size", cfg_path, "--gpus", "H100,H1000", "--profile-seconds", "0")
    assert code == 2 and "unknown device 'H1000'" in err and "H100-SXM" in err and "Traceback" not in err
    code, _, err = run_cli("size", cfg_path, "--gpus", "L4", "--profile-seconds", "0", "--target-time", "1ms")
    assert code == 2 and "no candidate trains in 1 ms" in err and "x the target" in err
    code, _, err = run_cli("size", tmp_path / "missing.yaml")
    assert code == 2 and "no such file" in err
    code, _, err = run_cli("size", cfg_path, "--plot", tmp_path / "nowhere" / "p.png")
    assert code == 2 and "--plot" in err and "does not exist" in err
    code, _, err = run_cli("sysinfo", "--data-path", tmp_path / "missing", "--measure")
    assert code == 2 and "does not exist" in err


def test_sysinfo_measure_reads_the_data_path(run_cli, tmp_path):
    code, out, err = run_cli("sysinfo", "--data-path", tmp_path, "--measure", "--measure-mib", "2", "--json")
    assert code == 0, err
    inv = json.loads(out)
    rt = inv["storage"]["read_test"]
    assert rt["sequential"]["bytes"] == 2 << 20 and rt["random"]["bytes_per_s"] > 0
    assert "nics" in inv["network"] and "flags" in inv["cpu"]
