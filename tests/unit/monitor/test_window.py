"""The sliding window keeps exactly the latest rows; the range checks flag what training never saw."""
import numpy as np

from dlbench.monitor.features import Feature
from dlbench.monitor.profile import FeatureRef, summarize
from dlbench.monitor.window import Ranges, SlidingWindow


def test_window_keeps_the_latest_rows_across_wraparound():
    w = SlidingWindow(2, 5)
    seen = []
    for start in range(0, 23, 3):  # batches of 3 rows, wrapping around several times
        rows = np.arange(start, start + 3, dtype=float)[:, None].repeat(2, axis=1)
        w.add(rows)
        seen.extend(rows[:, 0])
        assert sorted(w.rows()[:, 0]) == sorted(seen[-5:])
    assert w.total == len(seen) and w.filled == 5
    w.add(np.arange(100, 112, dtype=float)[:, None].repeat(2, axis=1))  # a batch larger than the window
    assert sorted(w.rows()[:, 0]) == list(range(107, 112))


def test_ranges_out_of_range_and_far_outside():
    rng = np.random.default_rng(0)
    num = FeatureRef.parse(summarize(Feature("x"), rng.uniform(0, 10, 1000), rng))  # std about 2.9
    cat = FeatureRef.parse(summarize(Feature("c", "categorical", ("a", "b")), np.array([0.0, 1.0] * 50), rng))
    r = Ranges([num, cat], far_std=3.0)
    rows = np.array([[5.0, 0], [10.5, 1], [1e9, 0], [-30.0, 2]])  # inside, just outside, far, far below + unseen
    out, far = r.check(rows)
    assert out.any(axis=1).tolist() == [False, True, True, True]
    assert far.any(axis=1).tolist() == [False, False, True, True]
    assert not far[:, 1].any()  # an unseen category is out of range, never "far"
    assert r.far_features(far) == ["x"]
