"""Scaling-sweep arithmetic and chart, without running anything."""
from types import SimpleNamespace

import pytest

from dlbench.schema import parse_config
from dlbench.errors import UserError
from dlbench.bench.scaling import parse_counts, scaling_chart, scaling_points
from tests.conftest import tiny


def session(devices, times, tput):
    runs = [SimpleNamespace(passed_check=True, time_to_train_s=t, result_file=f"r{devices}_{i}.txt")
            for i, t in enumerate(times)]
    valid = len(times) >= 3
    olympic = sum(sorted(times)[1:-1]) / (len(times) - 2) if valid else None
    return SimpleNamespace(device_count=devices, runs=runs, score={"valid": valid, "olympic_mean_s": olympic},
                           train_samples_per_s=tput, samples_per_s=None, session_id=devices)


def test_speedup_and_efficiency_against_the_smallest_count(tmp_path):
    cfg = parse_config(tiny(batch_size=64))
    pts = scaling_points([session(1, [10, 11, 12], 1000), session(2, [6, 6, 7], 1800), session(4, [4], 3000)], cfg)
    assert [p["devices"] for p in pts] == [1, 2, 4]
    assert pts[1]["speedup"] == pytest.approx(11 / 6) and pts[1]["efficiency"] == pytest.approx(11 / 12)
    assert pts[2]["olympic_mean"] is False and pts[2]["time_to_train_s"] == 4  # one run: its median
    assert pts[2]["throughput_efficiency"] == pytest.approx(0.75)
    assert [p["per_device_batch_size"] for p in pts] == [64, 32, 16] and pts[0]["lr"] == 3e-3
    png = scaling_chart(pts, tmp_path / "s.png", "t")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_device_counts_are_parsed_and_checked():
    assert parse_counts("4,1,2,2") == [1, 2, 4]
    for bad in ("1,x", "0,1", ""):
        with pytest.raises(UserError):
            parse_counts(bad)
