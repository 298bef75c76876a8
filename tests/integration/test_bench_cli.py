"""`dlbench bench run|check|compare|list` and `dlbench sysinfo` end to end, in this process."""
import json

import pytest
import yaml

TINY = {"data": {"kind": "digits", "flatten": True}, "model": {"name": "mlp", "hidden": [32]},
        "optim": {"lr": 3e-3}, "train": {"steps": 100, "batch_size": 32, "eval_every": 20, "log_every": 10,
                                         "threads": 1}}


@pytest.fixture
def cli(run_cli):
    """`dlbench ARGS` in this process -> (exit code, stdout, stderr) (tests/conftest.py)."""
    return run_cli


@pytest.fixture
def tiny_cfg(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY))
    return p


def test_run_check_compare_end_to_end(cli, tiny_cfg, tmp_path):
    out = tmp_path / "results"
    code, stdout, err = cli("bench", "run", tiny_cfg, "--target", "val.accuracy>=0.7", "--runs", "3",
                            "--system", "ci-box", "--out", out, "--json")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["benchmark"] == "custom-tiny" and res["device_count"] == 1 and len(res["runs"]) == 3
    assert res["score"]["valid"] and not res["official"] and "open division" in res["reason"]
    assert res["samples_per_s"] > 0 and res["train_samples_per_s"] > 0
    assert all(r["passed_check"] == (r["status"] == "success") for r in res["runs"])
    bench_dir = out / "ci-box" / "custom-tiny"
    assert sorted(p.name for p in bench_dir.iterdir()) == ["result_0.txt", "result_1.txt", "result_2.txt"]
    assert (out / "systems" / "ci-box.json").is_file() and (out / "dlbench.sqlite").is_file()
    assert not (tmp_path / "runs").exists()

    code, stdout, _ = cli("bench", "check", out)
    n_ok = sum(r["passed_check"] for r in res["runs"])
    assert code == (0 if n_ok == 3 else 1) and f"{n_ok} passed" in stdout

    code, stdout, _ = cli("bench", "compare", out, "--json")
    (row,) = json.loads(stdout)
    assert row["system"] == "ci-box" and row["time_s"] == pytest.approx(res["score"]["olympic_mean_s"])
    code, stdout, _ = cli("bench", "compare", out)
    assert code == 0 and (out / "compare.png").is_file()

    # a hand-edited result file: the quality it claims is not what the run reached
    good = next(bench_dir / f"result_{r['idx']}.txt" for r in res["runs"] if r["passed_check"])
    lines = []
    for line in good.read_text().splitlines():
        rec = json.loads(line.split(":::MLLOG ", 1)[1])
        if rec["key"] == "eval_accuracy":
            rec["value"] = 0.1
        lines.append(":::MLLOG " + json.dumps(rec))
    good.write_text("\n".join(lines) + "\n")
    code, stdout, _ = cli("bench", "check", out)
    assert code == 1 and "FAILED" in stdout and "eval_accuracy" in stdout

    (bench_dir / "notes.txt").write_text("mine")
    code, _, err = cli("bench", "check", out)
    assert code == 2 and "notes.txt" in err


def test_bad_input_is_one_line_exit_2(cli, tiny_cfg, tmp_path):
    code, _, err = cli("bench", "run", "digits-cn", "--out", tmp_path)
    assert code == 2 and "did you mean 'digits-cnn'" in err and "Traceback" not in err
    code, _, err = cli("bench", "run", tiny_cfg, "--target", "val.bleu>=0.3", "--out", tmp_path / "r")
    assert code == 2 and "valid metrics" in err and "val.accuracy" in err
    code, _, err = cli("bench", "run", tiny_cfg, "--out", tmp_path)
    assert code == 2 and "--target" in err
    code, _, err = cli("bench", "run", "digits-cnn", "--target", "val.accuracy>=0.5", "--out", tmp_path)
    assert code == 2 and "frozen" in err
    code, _, err = cli("bench", "run", "digits-cnn", "-o", "train.batch_size=8", "--out", tmp_path)
    assert code == 2 and "fixes" in err


def test_benchmark_of_a_family_not_built_yet_says_so(cli, tmp_path, monkeypatch):
    from dlbench.recipes import registry

    monkeypatch.delitem(registry.RECIPES, "gan")  # as before the GAN family landed
    code, _, err = cli("bench", "run", "digits-gan", "--out", tmp_path / "r")
    assert code == 2 and "'gan' model family" in err and "not have yet" in err
    assert not (tmp_path / "r").exists()


def test_list_shows_every_benchmark(cli):
    code, stdout, _ = cli("bench", "list")
    assert code == 0 and "digits-cnn" in stdout
    code, stdout, _ = cli("bench", "list", "--json")
    by = {b["name"]: b for b in json.loads(stdout)}
    assert set(by) == {"mnist1d-cnn", "digits-cnn", "diabetes-mlp", "numbers-transformer", "digits-gan",
                       "pydoc-lm"}
    assert by["digits-cnn"]["available"] and by["digits-cnn"]["quality"]["metric"] == "val.accuracy"


def test_sysinfo_without_gpu(cli, monkeypatch):
    import pynvml

    def no_nvml():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_nvml)
    code, stdout, _ = cli("sysinfo", "--json")
    inv = json.loads(stdout)
    assert code == 0 and inv["gpus"] == [] and inv["gpu_note"] == "no GPU"
    code, stdout, _ = cli("sysinfo")
    assert code == 0 and "no GPU" in stdout and "CPU" in stdout
