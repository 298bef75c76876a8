"""`dlbench bench infer --url`: LoadGen against a real dlbench server on a loopback port (API keys,
dynamic batching), in both wire encodings; accuracy over HTTP equals evaluate's; a refused key,
an unknown model and a server that is down are one-line errors."""
import json

import pytest

from tests.unit.serve.serve_fakes import live_server, make_keys

SHORT = ("--duration", "0.3", "--no-advice", "--system", "ci")


@pytest.fixture(scope="module")
def server(trained_run, tmp_path_factory):
    from dlbench.serve.runs import load_predictor

    tmp = tmp_path_factory.mktemp("keys")
    keys, key = make_keys(tmp)
    (tmp / "ci.key").write_text(key + "\n")
    with live_server([load_predictor(trained_run, device="cpu")], api_keys_path=keys, max_batch_size=256) as url:
        yield url, tmp / "ci.key"


def infer(run_cli, run, server, out, *args):
    url, key = server
    code, stdout, err = run_cli("bench", "infer", run, "--url", url, "--api-key-file", key, "--out", out, "--json",
                                *SHORT, *args)
    return code, (json.loads(stdout) if stdout.strip().startswith("{") else None), err


@pytest.mark.parametrize("encoding", ["binary", "json"])
def test_offline_over_http(run_cli, trained_run, server, tmp_path, encoding):
    code, doc, err = infer(run_cli, trained_run, server, tmp_path, "--scenario", "offline", "--http-encoding", encoding,
                           "--http-batch", "16", "--concurrency", "4")
    assert code == (0 if doc["valid"] else 1), err
    assert doc["backend"] == "http" and encoding in doc["backend_detail"].lower() and doc["failed_samples"] == 0
    assert doc["value"] > 0 and doc["mean_batch"] == pytest.approx(16, abs=1)
    assert doc["server_mean_batch"] >= 1  # read from the server's /metrics: what its dynamic batching formed
    assert (tmp_path / "ci" / trained_run.name / "offline" / "mlperf_log_summary.txt").is_file()


def test_server_scenario_over_http(run_cli, trained_run, server, tmp_path):
    code, doc, err = infer(run_cli, trained_run, server, tmp_path, "--scenario", "server", "--target-qps", "300",
                           "--latency-bound-ms", "500", "--search-steps", "1", "--concurrency", "8")
    assert code in (0, 1), err
    assert doc["search"][0]["target_qps"] == 300 and doc["rows_per_call"] == 1 and doc["workers"] == 8
    assert doc["search"][0]["server_mean_batch"] >= 1
    assert doc["valid"] or doc["reasons"]


def test_accuracy_over_http_equals_evaluate(run_cli, trained_run, server, tmp_path):
    import dlbench

    code, doc, err = infer(run_cli, trained_run, server, tmp_path, "--scenario", "offline", "--accuracy")
    assert code == 0, err
    assert doc["accuracy"]["metrics"]["accuracy"] == dlbench.evaluate(trained_run, "test")["accuracy"]


def test_refused_key_unknown_model_and_no_key(run_cli, trained_run, server, tmp_path):
    url, _ = server
    bad = tmp_path / "bad.key"
    bad.write_text("dlb_not-a-real-key")
    for args, message in (((("--api-key-file", bad)), "rejected the API key"),
                          (("--api-key-file", server[1], "--model-name", "nope"), "does not serve model 'nope'"),
                          ((), "rejected the API key (401")):
        code, _, err = run_cli("bench", "infer", trained_run, "--url", url, "--out", tmp_path, *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
