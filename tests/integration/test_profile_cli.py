"""`dlbench profile CONFIG` end to end."""
import json
import sys

import yaml


def run(monkeypatch, capsys, *args):
    from dlbench.cli import main

    monkeypatch.setattr(sys, "argv", ["dlbench", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    return code, capsys.readouterr()


def test_profile_reports_throughput_stall_and_memory(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"kind": "digits", "flatten": True}, "model": {"name": "mlp", "hidden": [32]},
                                   "train": {"batch_size": 32, "threads": 1}}))
    code, cap = run(monkeypatch, capsys, "profile", cfg, "--steps", "8", "--warmup", "2", "--json")
    assert code == 0, cap.err
    rep = json.loads(cap.out)
    m = rep["measurements"]
    assert m["steps"] == 8 and m["samples_per_s"] > 0 and 0 <= m["data_stall"] <= 1
    assert m["peak_rss_bytes"] > 0 and rep["recommendations"]
    code, cap = run(monkeypatch, capsys, "profile", cfg, "--steps", "4", "--warmup", "0")
    assert code == 0 and "data-stall fraction" in cap.out
    code, cap = run(monkeypatch, capsys, "profile", cfg, "--steps", "0")
    assert code == 2 and "--steps" in cap.err
