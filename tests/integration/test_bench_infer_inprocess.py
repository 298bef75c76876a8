"""`dlbench bench infer` on a tiny trained model, in-process: every scenario, accuracy mode against
`dlbench evaluate`, sizing advice, the results store beside training rows, and bad input."""
import json

import pytest

SHORT = ("--duration", "0.3", "--no-advice", "--threads", "1", "--system", "ci")


def infer(run_cli, run, out, *args):
    code, stdout, err = run_cli("bench", "infer", run, "--out", out, "--json", *SHORT, *args)
    return code, (json.loads(stdout) if stdout.strip().startswith("{") else None), err


@pytest.mark.parametrize("scenario,metric,unit", [("single-stream", "p90 latency", "ms"),
                                                   ("multi-stream", "p99 latency (8-sample queries)", "ms"),
                                                   ("offline", "throughput", "samples/s")])
def test_latency_and_throughput_scenarios(run_cli, trained_run, tmp_path, scenario, metric, unit):
    code, doc, err = infer(run_cli, trained_run, tmp_path / "results", "--scenario", scenario)
    assert code == (0 if doc["valid"] else 1), err
    assert doc["metric"] == metric and doc["unit"] == unit and doc["value"] > 0 and doc["samples_per_s"] > 0
    assert doc["verdict"] in ("VALID", "INVALID") and (doc["valid"] or doc["reasons"])
    assert "below LoadGen's minimum duration of 600 s" in doc["note"] and doc["full"] is False
    logs = tmp_path / "results" / "ci" / trained_run.name / scenario
    assert (logs / "mlperf_log_summary.txt").is_file() and (logs / "mlperf_log_detail.txt").is_file()
    assert json.loads((logs / "dlbench_infer.json").read_text())["id"] == doc["id"]
    if scenario == "multi-stream":
        assert doc["mean_batch"] == 8.0
    if scenario == "offline":
        assert doc["mean_batch"] > 8  # the one Offline query is run in batches


def test_server_search_and_the_short_run_note_in_text(run_cli, trained_run, tmp_path):
    code, stdout, err = run_cli("bench", "infer", trained_run, "--out", tmp_path / "r", "--scenario", "server",
                                "--target-qps", "1500", "--latency-bound-ms", "300", "--search-steps", "2", *SHORT)
    assert code in (0, 1), err
    assert "search: 1500 QPS" in stdout and "LoadGen verdict" in stdout and "short run" in stdout
    doc = json.loads((tmp_path / "r" / "ci" / trained_run.name / "server" / "dlbench_infer.json").read_text())
    assert 1 <= len(doc["search"]) <= 2 and doc["latency_bound_ms"] == 300
    first = doc["search"][0]
    assert first["target_qps"] == 1500 and (first["valid"] or first["reasons"])
    if doc["valid"]:
        assert doc["value"] > 0 and (tmp_path / "r" / "ci" / trained_run.name / "server" / "mlperf_log_summary.txt").is_file()


def test_accuracy_mode_equals_evaluate(run_cli, trained_run, tmp_path):
    import dlbench

    code, doc, err = infer(run_cli, trained_run, tmp_path / "r", "--scenario", "offline", "--accuracy")
    assert code == 0, err
    opened = [json.loads(line)["by"] for line in (trained_run / "test_access.jsonl").read_text().splitlines()]
    assert {"dlbench bench infer (inputs as queries)", "dlbench bench infer --accuracy"} <= set(opened)
    acc = doc["accuracy"]
    ev = dlbench.evaluate(trained_run, "test")
    assert acc["samples_logged"] == acc["samples"] and acc["metrics"]["accuracy"] == ev["accuracy"]
    assert acc["metrics"]["macro_f1"] == pytest.approx(ev["macro_f1"], abs=1e-12) and acc["matches_evaluate"] is True
    assert (tmp_path / "r" / "ci" / trained_run.name / "offline" / "accuracy" / "mlperf_log_accuracy.json").is_file()


def test_sizing_advice_and_compare_beside_training(run_cli, trained_run, tmp_path):
    from tests.unit.bench.test_bench_store import run, session

    from dlbench.bench.store import record_session

    out = tmp_path / "results"
    record_session(out / "dlbench.sqlite", session(system="ci"), [run(0)], {}, {})  # a time-to-train row
    code, stdout, err = run_cli("bench", "infer", trained_run, "--out", out, "--scenario", "offline", "--json",
                                "--duration", "0.3", "--threads", "1", "--system", "ci", "--target-qps", "100000",
                                "--latency-bound-ms", "1000")
    assert code in (0, 1), err
    adv = json.loads(stdout)["advice"]
    assert adv["kind"] in ("latency-bound", "throughput-bound") and adv["replicas"] >= 1
    assert {r["batch"] for r in adv["sweep"]["cpu"]} == {1, 8, 32, 128, 512} and "cpu" in adv["per_sample"]
    assert any("replica" in m for m in adv["messages"])

    code, stdout, _ = run_cli("bench", "compare", out, "--json")
    rows = json.loads(stdout)
    assert {r.get("kind", "training") for r in rows} == {"training", "inference"}
    inf = next(r for r in rows if r.get("kind") == "inference")
    assert inf["model"] == trained_run.name and inf["scenario"] == "offline" and inf["backend"] == "in-process"
    code, stdout, _ = run_cli("bench", "compare", out)
    assert code == 0 and "Time to train" in stdout and "Inference (MLPerf LoadGen)" in stdout
    # the compliance checker's walk skips LoadGen folders instead of calling them foreign
    code, _, err = run_cli("bench", "check", out)
    assert code == 2 and "no result files" in err


@pytest.mark.parametrize("args,message", [
    (("--scenario", "streaming"), "unknown scenario 'streaming'"),
    (("--scenario", "server", "--target-qps", "0"), "--target-qps must be a positive number"),
    (("--url", "http://127.0.0.1:{port}"), "cannot reach the inference server"),
])
def test_bad_input_is_one_line(run_cli, trained_run, tmp_path, args, message):
    from dlbench.serve.server import free_port

    args = tuple(a.format(port=free_port()) for a in args)
    code, stdout, err = run_cli("bench", "infer", trained_run, "--out", tmp_path, *args)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_not_a_model_directory(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("bench", "infer", tmp_path / "empty", "--out", tmp_path)
    assert code == 2 and "is not a model (no model.json)" in err
