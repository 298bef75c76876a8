"""Reading LoadGen's summary and accuracy log; scenario names and test settings."""
import json

import pytest

from dlbench.bench.infer.summary import read_accuracy_log, read_summary
from dlbench.bench.infer.sut import Plan, check_scenario, loadgen_settings
from dlbench.errors import UserError

SERVER = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 91.75
Result is : INVALID
  Performance constraints satisfied : Yes
  Min duration satisfied : Yes
  Min queries satisfied : Yes
  Early stopping satisfied: NO
Recommendations:
Early Stopping Result:
 * Run unsuccessful.
 * Processed 100 queries.
 * Would need to run at least 359 more queries,
 with the run being successful if every additional
 query were under latency.

================================================
Additional Stats
================================================
Scheduled samples per second : 92.57
Min latency (ns)                : 71241
Max latency (ns)                : 25173546
Mean latency (ns)               : 5766613
50.00 percentile latency (ns)   : 5022445
90.00 percentile latency (ns)   : 12792087
99.00 percentile latency (ns)   : 25173546

================================================
Test Parameters Used
================================================
samples_per_query : 1
target_qps : 100
"""

OFFLINE = """Scenario : Offline
Mode     : PerformanceOnly
Samples per second: 29362.7
Result is : INVALID
  Min duration satisfied : NO
  Min queries satisfied : Yes
  Early stopping satisfied: Yes
Recommendations:
 * Increase expected QPS so the loadgen pre-generates a larger (coalesced) query.

================================================
Additional Stats
================================================
Min latency (ns)                : 18731250
"""


def test_server_summary_verdict_reasons_and_figures(tmp_path):
    p = tmp_path / "mlperf_log_summary.txt"
    p.write_text(SERVER)
    s = read_summary(p)
    assert s["scenario"] == "Server" and s["valid"] is False
    assert s["reasons"] == ["early stopping satisfied: no"]
    assert s["headline"] == pytest.approx(91.75)
    assert s["latency_ms"]["p99"] == pytest.approx(25.173546) and s["latency_ms"]["mean"] == pytest.approx(5.766613)
    assert any("359 more queries, with the run" in e for e in s["early_stopping"])  # wrapped bullet joined
    assert s["values"]["target_qps"] == 100


def test_offline_summary_recommendation(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text(OFFLINE)
    s = read_summary(p)
    assert s["headline"] == pytest.approx(29362.7) and s["reasons"] == ["min duration satisfied: no"]
    assert s["recommendations"] == ["Increase expected QPS so the loadgen pre-generates a larger (coalesced) query."]


def test_not_a_summary(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("hello\n")
    with pytest.raises(UserError, match="not a LoadGen summary"):
        read_summary(p)
    with pytest.raises(UserError, match="no summary"):
        read_summary(tmp_path / "missing.txt")


def test_accuracy_log_first_occurrence_wins(tmp_path):
    p = tmp_path / "mlperf_log_accuracy.json"
    p.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 3, "data": "0000803F"},
                             {"seq_id": 1, "qsl_idx": 3, "data": "00000040"}]))
    assert read_accuracy_log(p) == {3: bytes.fromhex("0000803F")}


def test_scenarios_and_settings():
    import mlperf_loadgen as lg

    assert check_scenario("multi-stream") == "MultiStream"
    with pytest.raises(UserError, match="unknown scenario 'ofline'.*did you mean 'offline'"):
        check_scenario("ofline")
    s = loadgen_settings(Plan("Server", target_qps=500, latency_bound_s=0.02, duration_s=0.5), "m")
    assert s.scenario == lg.TestScenario.Server and s.server_target_qps == 500
    assert s.server_target_latency_ns == 20_000_000 and s.min_duration_ms == 500
    full = loadgen_settings(Plan("Offline", full=True, expected=1000), "m")
    assert full.min_duration_ms == 600_000 and full.offline_expected_qps == 1500  # LoadGen's own minimum
    ms = loadgen_settings(Plan("MultiStream", accuracy=True, expected=0.004), "m")
    assert ms.multi_stream_samples_per_query == 8 and ms.mode == lg.TestMode.AccuracyOnly
