"""Audio end to end on a tiny folder of generated tones (no speech synthesizer needed): recommend -> train ->
predict (a clip, a folder) -> serve (WAV bytes from tritonclient, base64 JSON, float samples); a waveform GAN
writing WAV files from `generate` and the server; and the bad inputs (not audio, mixed rates, an empty class)."""
import base64
import importlib.util
import io
import json
import logging
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import yaml

import dlbench
from dlbench.serve.runs import load_predictor
from tests.unit.serve.serve_fakes import live_server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_audio_example.py"
TRAIN = ["-o", "train.steps=30", "-o", "train.eval_every=15", "-o", "train.checkpoint_every=15",
         "-o", "train.threads=1"]


def write_tones(root: Path, per_class: int, rate: int = 8000, classes=("rising", "steady", "pulses")) -> Path:
    spec = importlib.util.spec_from_file_location("make_audio_example", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.write_folder(root, per_class=per_class, rate=rate, classes=classes)
    return root


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    mp = pytest.MonkeyPatch()
    mp.setenv("DLBENCH_CACHE_DIR", str(d / "cache"))
    mp.chdir(d)
    yield d, write_tones(d / "tones", per_class=12)
    mp.undo()


@pytest.fixture(scope="module")
def classifier(env):
    """recommend -> train through the CLI, once for the module."""
    from dlbench.cli import main
    import sys

    d, tones = env
    runs = []
    for args in (["recommend", str(tones), "--output", str(d / "kw.yaml")],
                 ["train", str(d / "kw.yaml"), "--run-dir", str(d / "kw"), "-q", *TRAIN]):
        argv, sys.argv = sys.argv, ["dlbench", *args]
        try:
            main()
        except SystemExit as e:
            assert e.code in (0, None), args
        finally:
            sys.argv = argv
        runs.append(args)
    return d / "kw"


def test_recommend_writes_a_spectrogram_cnn_that_trains(env, classifier):
    d, _ = env
    cfg = yaml.safe_load((d / "kw.yaml").read_text())
    assert cfg["data"]["kind"] == "audio-folder" and cfg["model"]["name"] == "cnn"
    assert "log-mel spectrograms [40, 71]" in (d / "kw.yaml").read_text() and cfg["data"]["layout"] == "sequence"
    info = json.loads((classifier / "model.json").read_text())
    assert info["preprocessing"]["kind"] == "audio" and info["preprocessing"]["sample_rate"] == 8000
    result = json.loads((classifier / "result.json").read_text())
    assert result["test"]["accuracy"] >= 0.5  # 30 steps on 3 classes: far above chance (1/3)


def test_recommend_for_generation_writes_a_waveform_gan(run_cli, env):
    d, tones = env
    code, _, err = run_cli("recommend", tones, "--goal", "generate", "--output", d / "gen.yaml")
    assert code == 0, err
    cfg = yaml.safe_load((d / "gen.yaml").read_text())
    assert cfg["model"]["name"] == "gan" and cfg["data"]["features"] == "waveform"


def test_predict_a_clip_and_a_folder(run_cli, env, classifier):
    d, tones = env
    code, out, err = run_cli("predict", classifier, tones / "rising" / "rising-000.wav")
    assert code == 0, err
    header, row = out.strip().splitlines()
    assert header.split(",")[:2] == ["input", "label"] and row.split(",")[1] in ("rising", "steady", "pulses")
    code, out, err = run_cli("predict", classifier, tones / "steady", "--output", d / "steady.csv")
    assert code == 0, err
    rows = (d / "steady.csv").read_text().strip().splitlines()
    assert len(rows) == 13 and rows[1].startswith(str(tones / "steady" / "steady-000.wav"))


def test_a_wav_that_is_not_audio_is_one_line(run_cli, env, classifier):
    d, _ = env
    (d / "fake.wav").write_text("hello, I am text")
    code, out, err = run_cli("predict", classifier, d / "fake.wav", "--output", d / "fake.csv")
    assert code == 2 and "fake.wav: not a readable audio file" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (d / "fake.csv").exists()


def test_served_classifier_takes_wav_bytes_and_samples(env, classifier):
    import tritonclient.http as httpclient

    _, tones = env
    clip = tones / "pulses" / "pulses-003.wav"
    expected = dlbench.predict(classifier, str(clip))["predictions"]
    names = json.loads((classifier / "model.json").read_text())["spec"]["class_names"]
    p = load_predictor(classifier, "kw", "1")
    with live_server([p], no_auth=True) as url:
        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        inp = httpclient.InferInput("audio", [1], "BYTES")
        inp.set_data_from_numpy(np.array([clip.read_bytes()], dtype=object), binary_data=True)
        res = client.infer("kw", [inp])  # the reference client, raw bytes with the binary extension
        assert res.as_numpy("label")[0].decode() == names[int(expected["label"][0])]
        probs = res.as_numpy("probabilities")
        b64 = {"inputs": [{"name": "audio", "shape": [1], "datatype": "BYTES",
                           "data": [base64.b64encode(clip.read_bytes()).decode()]}]}
        out = {o["name"]: o for o in httpx.post(f"{url}/v2/models/kw/infer", json=b64).json()["outputs"]}
        assert np.allclose(out["probabilities"]["data"], probs.ravel(), atol=1e-5)
        samples, rate = sf.read(clip, dtype="float32")
        assert rate == 8000
        req = {"inputs": [{"name": "samples", "shape": [1, len(samples)], "datatype": "FP32",
                           "data": samples.tolist()}]}
        out = {o["name"]: o for o in httpx.post(f"{url}/v2/models/kw/infer", json=req).json()["outputs"]}
        assert np.allclose(out["probabilities"]["data"], probs.ravel(), atol=1e-4)
        r = httpx.post(f"{url}/v2/models/kw/infer", json={"inputs": [
            {"name": "audio", "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(b"text").decode()]}]})
        assert r.status_code == 400 and "not a readable audio file" in r.json()["error"]


def test_an_empty_class_folder_fails_before_anything_is_written(run_cli, env, write_yaml, tmp_path):
    _, tones = env
    bad = tmp_path / "bad"
    write_tones(bad, per_class=4, classes=("rising", "steady"))
    (bad / "silence").mkdir()
    cfg = write_yaml({"data": {"kind": "audio-folder", "path": str(bad)}, "model": {"name": "cnn"}})
    code, _, err = run_cli("train", cfg, "--run-dir", tmp_path / "r")
    assert code == 2 and "silence has no audio files" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    (bad / "silence" / "a.wav").write_bytes((bad / "steady" / "steady-000.wav").read_bytes())
    code, _, err = run_cli("recommend", bad, "--output", tmp_path / "ok.yaml")  # fixed: a rerun works
    assert code == 0, err


def test_mixed_rates_are_resampled_with_a_warning(run_cli, env, write_yaml, tmp_path, caplog):
    mixed = tmp_path / "mixed"
    write_tones(mixed, per_class=5, classes=("rising", "steady"))
    write_tones(tmp_path / "extra", per_class=3, rate=16000, classes=("rising",))
    for f in (tmp_path / "extra" / "rising").iterdir():
        f.rename(mixed / "rising" / f"hi-{f.name}")
    cfg = write_yaml({"data": {"kind": "audio-folder", "path": str(mixed), "augment": {"time_shift": 0.1,
                                                                                     "freq_masks": 1}},
                      "model": {"name": "rnn", "hidden_size": 8}, "train": {"steps": 4, "eval_every": 2,
                                                                            "threads": 1}})
    with caplog.at_level(logging.WARNING):
        code, _, err = run_cli("train", cfg, "--run-dir", tmp_path / "r", "-o", "data.layout=sequence", "-q")
    assert code == 0, err
    assert "2 sample rates (10 at 8000 Hz, 3 at 16000 Hz): every clip is resampled to 8000 Hz" in caplog.text
    code, _, err = run_cli("train", cfg, "--run-dir", tmp_path / "r2")  # an RNN on [1, 40, T]: said how to fix
    assert code == 2 and "data.layout: sequence" in err and not (tmp_path / "r2").exists()


def test_a_waveform_gan_writes_wav_files(run_cli, env, write_yaml, tmp_path):
    _, tones = env
    cfg = write_yaml({"data": {"kind": "audio-folder", "path": str(tones), "features": "waveform",
                               "sample_rate": 4000, "duration": 0.128, "crop": "center"},
                      "model": {"name": "gan", "width": 8, "latent_dim": 16, "embed_dim": 8, "eval_samples": 30,
                                "reference": {"steps": 10, "features": 8}},
                      "train": {"steps": 4, "batch_size": 16, "eval_every": 2, "threads": 1}})
    code, _, err = run_cli("train", cfg, "--run-dir", tmp_path / "g", "-q")
    assert code == 0, err
    code, _, err = run_cli("generate", tmp_path / "g", "--n", "4", "--output", f"{tmp_path / 'samples'}/")
    assert code == 0, err
    files = sorted((tmp_path / "samples").iterdir())
    assert [f.name for f in files] == ["0000-pulses.wav", "0001-rising.wav", "0002-steady.wav", "0003-pulses.wav"]
    x, rate = sf.read(files[1], dtype="float32")
    assert rate == 4000 and x.shape == (512,) and np.abs(x).max() <= 1
    before = files[0].read_bytes()
    code, _, err = run_cli("generate", tmp_path / "g", "--n", "4", "--seed", "1", "--output", tmp_path / "samples")
    assert code == 2 and "already exists" in err and files[0].read_bytes() == before  # nothing overwritten
    p = load_predictor(tmp_path / "g", "tone-gan", "1")
    with live_server([p], no_auth=True) as url:
        r = httpx.post(f"{url}/v2/models/tone-gan/infer", json={"inputs": [
            {"name": "count", "shape": [1], "datatype": "INT64", "data": [2]}]})
        assert r.status_code == 200, r.text
        out = {o["name"]: o for o in r.json()["outputs"]}
    wav, rate = sf.read(io.BytesIO(base64.b64decode(out["files"]["data"][1])), dtype="float32")
    assert rate == 4000 and np.allclose(wav, np.asarray(out["samples"]["data"]).reshape(2, 512)[1], atol=1e-4)
