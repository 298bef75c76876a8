"""`dlbench bench run CONFIG --target ... --scaling 1,2`: each count under torchrun, MLPerf logs written
by rank 0 that pass the compliance checker, sessions per device count, and the speedup JSON + PNG."""
import json

from tests.integration.test_distributed_train import config


def test_scaling_sweep_over_one_and_two_processes(tmp_path, write_yaml, run_cli):
    cfg = write_yaml(config(steps=60, eval_every=20, log_every=20))
    out = tmp_path / "results"
    code, stdout, err = run_cli("bench", "run", cfg, "--target", "val.accuracy>=0.05", "--runs", "1",
                                "--scaling", "1,2", "--out", out, "--json", "-q")
    assert code == 0, err[-3000:]
    doc = json.loads(stdout)
    assert [p["devices"] for p in doc["points"]] == [1, 2]
    two = doc["points"][1]
    assert (two["global_batch_size"], two["per_device_batch_size"], two["lr"], two["converged"]) == (32, 16, 3e-3, 1)
    assert two["speedup"] and two["efficiency"] == two["speedup"] / 2
    assert (out / "scaling-custom-cfg-local.png").read_bytes()[:4] == b"\x89PNG"
    log = (out / "local-x2" / "custom-cfg" / "result_0.txt").read_text()
    assert '"key": "global_batch_size", "value": 32' in log and '"status": "success"' in log
    code, stdout, err = run_cli("bench", "check", out)
    assert code == 0, stdout[-3000:]
