"""A tiny conditional digits GAN through the CLI: train, evaluate, generate (.png/.npz/.csv), bad input."""
import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

TINY_GAN = {"data": {"kind": "digits"},
            "model": {"name": "gan", "conditional": True, "width": 8, "latent_dim": 16, "embed_dim": 8,
                      "eval_samples": 100, "reference": {"steps": 30, "features": 16}},
            "train": {"steps": 16, "batch_size": 32, "eval_every": 8, "log_every": 4, "checkpoint_every": 8,
                      "threads": 1, "eval_train_samples": 100},
            "name": "tiny-digits-gan"}


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    """Trained once through `dlbench train`; the tests below only read it."""
    import sys

    import yaml

    from dlbench.cli import main

    d = tmp_path_factory.mktemp("gan")
    cfg = d / "gan.yaml"
    cfg.write_text(yaml.safe_dump(TINY_GAN))
    argv, code = sys.argv, 0
    sys.argv = ["dlbench", "train", str(cfg), "--run-dir", str(d / "g1"), "-q"]
    try:
        main()
    except SystemExit as e:  # main() exits only on failure
        code = e.code
    finally:
        sys.argv = argv
    assert code in (0, None)
    return d / "g1"


def test_train_writes_the_run_directory(gan_run):
    names = {p.name for p in gan_run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "checkpoints", "model.safetensors", "model.json", "result.json",
            "classifier", "samples", "samples.png"} <= names
    assert (gan_run / "classifier" / "model.safetensors").is_file()  # the reference classifier, a run of its own
    r = json.loads((gan_run / "result.json").read_text())
    assert {"val", "test", "diagnosis", "timing", "versions"} <= set(r) and r["task"] == "generation"
    for split in ("val", "test"):
        m = r[split]
        assert m["classifier_fd_untrained"] > 0 and m["fd_improvement"] == pytest.approx(
            m["classifier_fd_untrained"] / m["classifier_fd"])
        assert 0 <= m["conditional_accuracy"] <= 1 and 1 <= m["distinct_classes"] <= 10
    evals = [json.loads(x) for x in (gan_run / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [e["step"] for e in evals] == [0, 8, 16]
    assert sorted(p.name for p in (gan_run / "samples").iterdir()) == ["step-0.png", "step-16.png", "step-8.png"]
    assert r["data"]["test_opened"] == ["final test after training"]


def test_evaluate_reports_fd_accuracy_and_diversity(run_cli, gan_run):
    code, out, err = run_cli("evaluate", gan_run, "--split", "val", "--json")
    assert code == 0, err
    m = json.loads(out)
    assert {"classifier_fd", "classifier_fd_untrained", "fd_improvement", "classifier_fd_real",
            "conditional_accuracy", "distinct_classes", "diversity_ratio"} <= set(m)


def test_generate_writes_the_requested_count_and_format(run_cli, gan_run, tmp_path):
    code, _, err = run_cli("generate", gan_run, "--n", "12", "--label", "7", "--output", tmp_path / "sevens.png")
    assert code == 0, err
    assert Image.open(tmp_path / "sevens.png").format == "PNG"
    code, _, err = run_cli("generate", gan_run, "--n", "10", "--seed", "3", "--output", tmp_path / "s.npz")
    assert code == 0, err
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        assert f["x"].shape == (10, 1, 8, 8) and f["y"].tolist() == [i % 10 for i in range(10)]
        assert f["x"].min() >= -1e-4 and f["x"].max() <= 16 + 1e-3  # the data's own units (pixel values 0..16)
    code, _, err = run_cli("generate", gan_run, "--n", "7", "--label", "3", "--output", tmp_path / "s.csv")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(rows) == 7 and {r["label"] for r in rows} == {"3"} and len(rows[0]) == 65


def test_same_seed_same_samples(run_cli, gan_run, tmp_path):
    for name in ("a.npz", "b.npz"):
        assert run_cli("generate", gan_run, "--n", "5", "--seed", "9", "--output", tmp_path / name)[0] == 0
    assert np.array_equal(np.load(tmp_path / "a.npz")["x"], np.load(tmp_path / "b.npz")["x"])


@pytest.mark.parametrize("args,message", [
    (["--label", "12"], "unknown label '12'"),
    (["--output", "{tmp}/x.gif"], "unsupported extension"),
    (["--n", "0"], "at least 1"),
])
def test_generate_bad_input(run_cli, gan_run, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "x.png")]
    code, out, err = run_cli("generate", gan_run, *args)
    assert code == 2 and message in err and "Traceback" not in err + out
    assert not (tmp_path / "x.png").exists()


def test_conditional_gan_on_data_without_labels(run_cli, write_yaml, tmp_path):
    cfg = {"data": {"kind": "diabetes"}, "model": {"name": "gan", "conditional": True}, "train": {"steps": 2}}
    code, out, err = run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "r", "-q")
    assert code == 2 and "conditional: true needs class labels" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "classifier").exists()  # failed before training anything


@pytest.mark.parametrize("damage,message", [
    ("weights", "sha256 does not match"),
    ("model_json", "corrupt model.json"),
    ("classifier", "reference classifier"),
])
def test_corrupt_run_directory(run_cli, gan_run, tmp_path, damage, message):
    bad = tmp_path / "bad"
    shutil.copytree(gan_run, bad)
    if damage == "weights":
        data = bytearray((bad / "model.safetensors").read_bytes())
        data[-1] ^= 0xFF
        (bad / "model.safetensors").write_bytes(bytes(data))
    elif damage == "model_json":
        (bad / "model.json").write_text("{not json")
    else:
        shutil.rmtree(bad / "classifier")
    code, out, err = run_cli("evaluate", bad)
    assert code == 2 and message in err and "Traceback" not in err + out
    if damage != "classifier":
        code, _, err = run_cli("generate", bad, "--output", tmp_path / "x.png")
        assert code == 2 and message in err


def test_predict_points_to_generate_and_the_classifier_reads_generated_samples(run_cli, gan_run, tmp_path):
    code, _, err = run_cli("predict", gan_run, tmp_path / "none.csv")
    assert code == 2 and "dlbench generate" in err
    assert run_cli("generate", gan_run, "--n", "6", "--output", tmp_path / "g.npz")[0] == 0
    # generated samples are in the data's units, so any model trained on the same data can read them
    code, out, err = run_cli("predict", gan_run / "classifier", tmp_path / "g.npz")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 7
