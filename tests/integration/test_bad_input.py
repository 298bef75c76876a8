"""Each bad input gets one clear line and exit code 2: no traceback, nothing lost."""
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny


def assert_clean_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ")
    for n in needles:
        assert n in err, (n, err)


def test_malformed_yaml(run_cli, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data: {kind: digits\nmodel: x\n")
    assert_clean_error(*run_cli("train", p)[::2], "malformed YAML at line")


def test_unknown_key_wrong_type_out_of_range_all_at_once(run_cli, write_yaml):
    cfg = tiny()
    cfg["train"]["batchsize"] = 3
    cfg["optim"]["lr"] = "big"
    cfg["optim"]["momentum"] = 1.5
    code, _, err = run_cli("train", write_yaml(cfg))
    assert_clean_error(code, err, "3 problems", "did you mean 'batch_size'", "optim.lr", "optim.momentum")


def test_bad_override(run_cli):
    assert_clean_error(*run_cli("train", "digits-cnn", "-o", "train.stepz=3")[::2], "train.stepz", "'steps'")


def test_missing_config_and_data_file(run_cli, write_yaml, tmp_path):
    assert_clean_error(*run_cli("train", tmp_path / "none.yaml")[::2], "config file not found")
    cfg = tiny(model="mlp")
    cfg["data"] = {"kind": "csv", "path": str(tmp_path / "missing.csv"), "target": "y"}
    assert_clean_error(*run_cli("train", write_yaml(cfg), "--run-dir", tmp_path / "r")[::2], "data file not found")


@pytest.fixture
def csv_cfg(tmp_path, write_yaml):
    def make(frame: pd.DataFrame, **data):
        p = tmp_path / "d.csv"
        frame.to_csv(p, index=False)
        cfg = tiny(model="mlp")
        cfg["data"] = {"kind": "csv", "path": str(p), **data}
        return write_yaml(cfg)

    return make


def frame(n=60):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], n), "y": rng.integers(0, 2, n)})


def test_csv_without_target_column(run_cli, csv_cfg):
    assert_clean_error(*run_cli("train", csv_cfg(frame(), target="label"))[::2], "no target column 'label'")


def test_csv_non_numeric_regression_target(run_cli, csv_cfg):
    assert_clean_error(*run_cli("train", csv_cfg(frame(), target="b", task="regression"))[::2],
                       "regression target 'b' is not numeric")


def test_csv_missing_values_say_where_and_offer_impute(run_cli, csv_cfg):
    f = frame()
    f.loc[5, "a"] = np.nan
    assert_clean_error(*run_cli("train", csv_cfg(f, target="y"))[::2], "column(s) a (rows 5)", "impute")


def test_image_folder_without_images_and_unreadable(run_cli, write_yaml, tmp_path):
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    cfg = tiny()
    cfg["data"] = {"kind": "image-folder", "path": str(tmp_path / "imgs")}
    assert_clean_error(*run_cli("train", write_yaml(cfg))[::2], "no PNG/JPEG images")
    from tests.unit.data.test_images_npz import make_folder

    root = make_folder(tmp_path / "im2")
    (root / "dogs" / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    cfg["data"]["path"] = str(root)
    assert_clean_error(*run_cli("train", write_yaml(cfg))[::2], "cannot read image", "bad.jpg")


def test_empty_split(run_cli, csv_cfg):
    assert_clean_error(*run_cli("train", csv_cfg(frame(6), target="y", val_fraction=0.05, test_fraction=0.05))[::2],
                       "split is empty")


def test_tampered_model_file_is_refused(run_cli, trained_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (run / "model.safetensors").write_bytes(bytes(data))
    assert_clean_error(*run_cli("evaluate", run)[::2], "sha256 does not match")
    (run / "model.json").write_text("{not json")
    assert_clean_error(*run_cli("evaluate", run)[::2], "corrupt model.json")


def test_corrupt_checkpoint_is_skipped_on_resume(run_cli, write_yaml, tmp_path, caplog):
    p = write_yaml(tiny(steps=40))
    run = tmp_path / "r"
    assert run_cli("train", p, "--run-dir", run, "-q")[0] == 0
    newest = run / "checkpoints" / "step-40.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])
    code, _, err = run_cli("train", p, "--run-dir", run, "--resume", "-q", "-o", "train.steps=60")
    assert code == 0
    assert "skipping checkpoint step-40.json" in caplog.text + err
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 60 and steps.count(40) == 2  # steps 21..40 were redone (train + eval record)


def test_predict_input_shape_or_columns_mismatch(run_cli, trained_run, tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 39)))
    assert_clean_error(*run_cli("predict", trained_run, tmp_path / "x.npz")[::2], "expects [N, 1, 40]")
    assert_clean_error(*run_cli("predict", trained_run, tmp_path / "x.txt")[::2], "input not found")


def test_predict_tabular_missing_columns(run_cli, write_yaml, tmp_path, csv_cfg):
    code, _, err = run_cli("train", csv_cfg(frame(), target="y"), "--run-dir", tmp_path / "t", "-q")
    assert code == 0, err
    frame().drop(columns=["b", "y"]).to_csv(tmp_path / "new.csv", index=False)
    assert_clean_error(*run_cli("predict", tmp_path / "t", tmp_path / "new.csv")[::2], "missing column b")


def test_not_a_run_directory(run_cli, tmp_path):
    assert_clean_error(*run_cli("evaluate", tmp_path)[::2], "no model.json")
    assert_clean_error(*run_cli("evaluate", tmp_path / "nope")[::2], "run directory not found")


# --- a run that fails before training does not block its retry (issue 25, item 5) ---------------------

def _wrong_path(cfg, tmp_path):
    cfg["data"] = {"kind": "csv", "path": str(tmp_path / "missing.csv"), "target": "y"}


def _wrong_target(cfg, tmp_path):
    frame().to_csv(tmp_path / "d.csv", index=False)
    cfg["data"] = {"kind": "csv", "path": str(tmp_path / "d.csv"), "target": "label"}


def _wrong_family(cfg, tmp_path):
    cfg["data"] = {"kind": "diabetes"}
    cfg["model"] = {"name": "cnn", "stages": [{"channels": 8, "kernel": 3}]}


@pytest.mark.parametrize("break_it,needle", [(_wrong_path, "data file not found"),
                                              (_wrong_target, "no target column 'label'"),
                                              (_wrong_family, "does not fit")],
                         ids=["data-path", "target", "family"])
def test_a_run_that_fails_before_training_leaves_nothing_and_its_retry_works(run_cli, write_yaml, tmp_path,
                                                                               break_it, needle):
    cfg = tiny(model="mlp", steps=4, eval_every=2, log_every=2, checkpoint_every=4)
    good_data = cfg["data"]
    break_it(cfg, tmp_path)
    run = tmp_path / "runs" / "r"
    assert_clean_error(*run_cli("train", write_yaml(cfg), "--run-dir", run, "-q")[::2], needle)
    assert not (tmp_path / "runs").exists()
    cfg["data"], cfg["model"] = good_data, tiny(model="mlp")["model"]
    code, _, err = run_cli("train", write_yaml(cfg), "--run-dir", run, "-q")
    assert code == 0, err
    assert (run / "model.json").is_file()


def test_a_gan_run_with_a_wrong_data_path_leaves_nothing(run_cli, write_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = {"name": "g", "data": {"kind": "csv", "path": str(tmp_path / "missing.csv"), "target": "y"},
           "model": {"name": "gan"}, "train": {"steps": 2}}
    assert_clean_error(*run_cli("train", write_yaml(cfg), "-q")[::2], "data file not found")
    assert not (tmp_path / "runs").exists()


# --- a full disk (issue 27, items 8 and 9) -----------------------------------------------------------

def test_a_full_disk_while_writing_the_config_leaves_no_dead_end(run_cli, write_yaml, tmp_path, monkeypatch):
    from tests.unit.run.disk import fill_disk

    p, run = write_yaml(tiny(steps=4, eval_every=2, log_every=2, checkpoint_every=4)), tmp_path / "r"
    fill_disk(monkeypatch, "config.yaml")
    assert_clean_error(*run_cli("train", p, "--run-dir", run, "-q")[::2], "config.yaml: No space left on device")
    assert not run.exists()
    monkeypatch.undo()
    run.mkdir()
    (run / ".config.yaml.tmp").write_text("data: {kin")  # what a kill -9 during that write leaves
    code, _, err = run_cli("train", p, "--run-dir", run, "-q", "--resume")  # --resume starts a run never begun
    assert code == 0, err
    assert (run / "model.json").is_file() and not (run / ".config.yaml.tmp").exists()


# --- the test split is an explicit, counted choice (issue 25, item 11) -----------------------------

def test_evaluate_on_test_is_counted_and_warns_from_the_second_time(run_cli, trained_run, tmp_path, caplog):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    lines = (run / "test_access.jsonl").read_text().splitlines()  # the shared run: other tests may have opened it
    assert json.loads(lines[0])["by"] == "final test after training"
    (run / "test_access.jsonl").write_text(lines[0] + "\n")
    code, _, err = run_cli("evaluate", run, "--json")  # validation: not counted
    assert code == 0, err
    code, _, err = run_cli("evaluate", run, "--split", "test", "--json")
    assert code == 0 and "opened" not in caplog.text + err
    code, _, err = run_cli("evaluate", run, "--split", "test", "--json")
    assert code == 0
    assert "has now been opened 3 times (1 by evaluate before this one" in caplog.text + err
    assert len((run / "test_access.jsonl").read_text().splitlines()) == 3


def test_a_distributed_run_that_fails_on_its_data_leaves_nothing(write_yaml, tmp_path):
    """Rank 0 creates the run directory once the data is built; the launcher only checks the path."""
    from dlbench.errors import UserError
    from dlbench.launch.torchrun import launch_distributed

    cfg = tiny(model="mlp", steps=4, eval_every=2, log_every=2, checkpoint_every=4, threads=1)
    _wrong_target(cfg, tmp_path)
    run = tmp_path / "r"
    with pytest.raises(UserError, match="no target column 'label'"):
        launch_distributed(str(write_yaml(cfg)), [], str(run), False, True, 2, dist_timeout=60)
    assert not run.exists()
    with pytest.raises(UserError, match="no target column 'label'"):  # the retry is not refused either
        launch_distributed(str(write_yaml(cfg)), [], str(run), True, True, 2, dist_timeout=60)
    assert not run.exists()
