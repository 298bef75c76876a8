"""The server's monitor of one served run: the far-outside flag, scores in a thread of their own, the gauges."""
import time

import numpy as np

from dlbench.serve.drift import Monitoring
from dlbench.serve.runs import load_predictor
from dlbench.serve.settings import ServeSettings


def test_scores_come_from_a_thread_and_never_block_a_scrape(trained_run):
    predictor = load_predictor(trained_run)
    monitoring = Monitoring(ServeSettings(no_auth=True, monitor_window=100, drift_min_rows=50, drift_interval_s=5))
    monitor = monitoring.attach(predictor)
    x = {"input": np.random.default_rng(0).normal(size=(120, 1, 40)).astype(np.float32)}
    assert monitoring.observe(predictor, x, predictor.predict(x, {}), None) is not None
    assert monitor.scores() == ([], [], 0.0)  # the first scores are being computed: nothing to show yet
    deadline = time.monotonic() + 30
    while monitor._scoring.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    inputs, outputs, _ = monitor.scores()
    assert len(inputs) == 44 and [s.feature for s in outputs] == ["confidence", "label"]
    assert all(s.rows == 100 for s in inputs)  # the window keeps the latest 100 of the 120 rows
    names = {m.name for m in monitoring.collect()}
    assert {"dlbench_drift_psi", "dlbench_drifted_features", "dlbench_far_outside_requests"} <= names


def test_far_outside_flag_names_the_features(trained_run):
    predictor = load_predictor(trained_run)
    monitoring = Monitoring(ServeSettings(no_auth=True))
    x = np.zeros((2, 1, 40), dtype=np.float32)
    x[1, 0, 5] = 1e6
    flags = monitoring.observe(predictor, {"input": x}, predictor.predict({"input": x}, {}), "r1")
    assert flags["far_outside_training_range"] is True
    assert "input[5]" in flags["far_outside_features"].split(", ")
    off = Monitoring(ServeSettings(no_auth=True, monitor=False))
    assert off.observe(predictor, {"input": x}, {}, None) is None and off.status()[0].startswith("drift monitoring is OFF")
