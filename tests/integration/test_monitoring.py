"""Drift monitoring with a real server: trained runs carry a reference profile; traffic from the training distribution
keeps every drift gauge under its threshold, and one shifted feature (2 standard deviations), brightened images or
text in other languages cross it within the window. Runs trained before profiles existed still serve, unmonitored."""
from __future__ import annotations

import json
import re
import shutil

import httpx
import numpy as np
import pytest

import dlbench
from dlbench.data.registry import build_data
from dlbench.run.files import canonical_sha256
from dlbench.schema import parse_config
from dlbench.serve.runs import load_predictor
from tests.conftest import REPO
from tests.unit.serve.serve_fakes import live_server

CSV = REPO / "src/dlbench/configs/data/breast-cancer.csv"
WINDOW = 200
SERVE = {"no_auth": True, "monitor_window": WINDOW, "drift_min_rows": 100, "drift_interval_s": 0}
TRAIN = {"steps": 30, "eval_every": 10, "batch_size": 32, "threads": 1}


def metrics(url: str) -> dict[tuple[str, tuple], float]:
    """/metrics as {(name, ((label, value), ...)): value} for the drift families."""
    out = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        m = re.match(r"^(dlbench_(?:drift|prediction_drift|drifted|out_of_range|far_outside|monitor)\w*)\{(.*)\} (\S+)$", line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2))))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def gauge(ms: dict, name: str, **labels) -> float:
    return ms[(name, tuple(sorted(labels.items())))]


def detected(ms: dict, model: str) -> dict[str, float]:
    return {dict(k[1])["feature"]: v for k, v in ms.items() if k[0] == "dlbench_drift_detected" and dict(k[1])["model"] == model}


def infer(url: str, model: str, inputs: list[dict]) -> dict:
    r = httpx.post(f"{url}/v2/models/{model}/infer", json={"inputs": inputs}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


# --- tables ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("mon") / "bc"
    dlbench.train({"data": {"kind": "csv", "path": str(CSV), "target": "diagnosis"},
                   "model": {"name": "mlp", "hidden": [16]}, "train": TRAIN, "name": "bc"}, run_dir=d)
    return d


def _rows(frame, cols):
    return [{"name": c, "shape": [len(frame)], "datatype": "FP64", "data": frame[c].tolist()} for c in cols]


def test_table_in_distribution_stays_quiet_and_a_shifted_feature_crosses_within_the_window(table_run, tmp_path):
    import pandas as pd

    frame = pd.read_csv(CSV)
    cols = [c for c in frame.columns if c != "diagnosis"]
    rng = np.random.default_rng(0)
    log = tmp_path / "requests.jsonl"
    with live_server([load_predictor(table_run, name="bc")], request_log=log, request_log_sample_rate=1.0, **SERVE) as url:
        for _ in range(WINDOW // 8):  # rows drawn from the data the model was trained on
            answer = infer(url, "bc", _rows(frame.iloc[rng.choice(len(frame), 8)], cols))
            assert answer["parameters"] == {"far_outside_training_range": False}
        ms = metrics(url)
        assert gauge(ms, "dlbench_monitor_window_rows", model="bc", version="1") == WINDOW
        assert gauge(ms, "dlbench_drifted_features", model="bc", version="1") == 0
        assert set(detected(ms, "bc")) == set(cols) and not any(detected(ms, "bc").values())
        assert all(v < 0.2 for k, v in ms.items() if k[0] == "dlbench_drift_psi")

        shifted = frame.copy()
        shifted["texture"] += 2 * frame["texture"].std()
        for _ in range(WINDOW // 8):
            infer(url, "bc", _rows(shifted.iloc[rng.choice(len(frame), 8)], cols))
        ms = metrics(url)
        assert {f for f, v in detected(ms, "bc").items() if v} == {"texture"}
        assert gauge(ms, "dlbench_drift_psi", model="bc", version="1", feature="texture") > 0.2
        assert gauge(ms, "dlbench_drift_wasserstein", model="bc", version="1", feature="texture") == pytest.approx(2, abs=0.4)
        assert gauge(ms, "dlbench_drifted_features", model="bc", version="1") >= 1

        far = frame.iloc[:2].copy()
        far.loc[far.index[1], "area"] = 1e9  # the example: a confident answer to nonsense
        answer = infer(url, "bc", _rows(far, cols))
        assert answer["parameters"] == {"far_outside_training_range": True, "far_outside_features": "area"}
        assert gauge(metrics(url), "dlbench_far_outside_requests_total", model="bc", version="1") == 1

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 2 * (WINDOW // 8) + 1 and lines[-1]["far_outside"] == ["area"]
    assert set(lines[0]["inputs"]) == set(cols) and set(lines[0]["outputs"]) == {"probabilities", "label"}
    assert "authorization" not in log.read_text().lower()


def test_monitor_command_reports_drift_from_a_request_log_and_from_a_csv(table_run, tmp_path, run_cli):
    import pandas as pd

    frame = pd.read_csv(CSV)
    same, shifted = tmp_path / "same.csv", tmp_path / "shifted.csv"
    frame.to_csv(same, index=False)
    frame.assign(texture=frame["texture"] + 2 * frame["texture"].std()).to_csv(shifted, index=False)
    code, out, err = run_cli("monitor", table_run, same, "--output", tmp_path / "same.html")
    assert code == 0, err
    assert "no drift" in err and (tmp_path / "same.html").is_file()
    code, out, err = run_cli("monitor", table_run, shifted, "--output", tmp_path / "shift.html", "--json")
    assert code == 1, err
    summary = json.loads(out)
    assert [s["feature"] for s in summary["inputs"] if s["drifted"]] == ["texture"] and summary["rows"] == len(frame)
    html = (tmp_path / "shift.html").read_text()
    assert "texture" in html and "data:image/png;base64," in html

    log = tmp_path / "requests.jsonl"  # what a server sampled: the shifted rows with the answers it gave
    cols = [c for c in frame.columns if c != "diagnosis"]
    record = {"time": "t", "model": "bc", "version": "1", "id": None,
              "inputs": {c: (frame[c] + (2 * frame[c].std() if c == "texture" else 0)).tolist() for c in cols},
              "outputs": {"probabilities": [[0.5, 0.5]] * len(frame), "label": ["benign"] * len(frame)}}
    log.write_text(json.dumps(record) + "\n")
    code, out, err = run_cli("monitor", table_run, log, "--json")
    assert code == 1, err
    summary = json.loads(out)
    assert "request log" in summary["source"] and "texture" in summary["verdict"]
    assert (table_run / "drift-report.html").is_file()


def _without_profile(run, dest):
    """The run as a dlbench from before reference profiles would have written it."""
    shutil.copytree(run, dest)
    info = json.loads((dest / "model.json").read_text())
    del info["reference_profile"], info["description_sha256"]
    info["description_sha256"] = canonical_sha256(info)
    (dest / "model.json").write_text(json.dumps(info))
    (dest / "reference_profile.json").unlink()
    return dest


def test_a_run_trained_before_profiles_still_serves_unmonitored(table_run, tmp_path, run_cli):
    import pandas as pd

    old = _without_profile(table_run, tmp_path / "old")
    frame = pd.read_csv(CSV)
    cols = [c for c in frame.columns if c != "diagnosis"]
    with live_server([load_predictor(old, name="old")], **SERVE) as url:
        answer = infer(url, "old", _rows(frame.iloc[:3], cols))
        assert "parameters" not in answer and len(answer["outputs"][1]["data"]) == 3
        assert gauge(metrics(url), "dlbench_monitor_reference", model="old", version="1") == 0
    code, out, _ = run_cli("serve", "check", old, "--no-auth")
    assert code == 0 and "no reference profile" in out
    code, _, err = run_cli("monitor", old, tmp_path)
    assert code == 2 and "no reference profile" in err


def test_an_edited_profile_stops_the_server_and_fails_the_check(table_run, tmp_path, run_cli):
    from dlbench.errors import UserError
    from dlbench.serve.app import create_app
    from dlbench.serve.settings import ServeSettings

    bad = tmp_path / "bad"
    shutil.copytree(table_run, bad)
    f = bad / "reference_profile.json"
    f.write_text(f.read_text().replace('"kind":"numeric"', '"kind":"numeric" ', 1))
    with pytest.raises(UserError, match="reference_profile.json: sha256 does not match"):
        create_app([load_predictor(bad)], ServeSettings(no_auth=True))
    code, out, _ = run_cli("serve", "check", bad, "--no-auth")
    assert code == 1 and "HIGH" in out and "reference_profile.json" in out


# --- images and texts --------------------------------------------------------------------------------------------

def _images(rng, n: int, shift: int = 0) -> dict:
    """Two classes of 8x8 grey noise images, dark and light; `shift` brightens every pixel."""
    from PIL import Image

    return {f"{c}/{i}.png": Image.fromarray(np.clip(rng.normal(mean, 20, (8, 8)) + shift, 0, 255).astype(np.uint8))
            for c, mean in (("dark", 80), ("light", 150)) for i in range(n)}


def test_brightened_images_cross_the_brightness_threshold(tmp_path):
    rng = np.random.default_rng(0)
    for name, im in _images(rng, 60).items():
        (tmp_path / "img" / name).parent.mkdir(parents=True, exist_ok=True)
        im.save(tmp_path / "img" / name)
    run = tmp_path / "run"
    dlbench.train({"data": {"kind": "image-folder", "path": str(tmp_path / "img")},
                   "model": {"name": "cnn", "stages": [{"channels": 4, "kernel": 3}]}, "train": TRAIN}, run_dir=run)

    def send(url, shift):
        for _ in range(WINDOW // 20):
            px = np.stack([np.asarray(im) for im in _images(rng, 10, shift).values()])
            infer(url, "img", [{"name": "image", "shape": list(px.shape), "datatype": "UINT8", "data": px.ravel().tolist()}])
        return detected(metrics(url), "img")

    with live_server([load_predictor(run, name="img")], **SERVE) as url:
        assert not any(send(url, 0).values())
        assert send(url, 60)["image.brightness"] == 1


def test_text_in_other_languages_crosses_a_text_threshold(tmp_path):
    data = {"kind": "numbers-language", "languages": ["en", "fr"], "size": 400, "tokenizer": {"type": "char"},
            "max_len": 64}
    run = tmp_path / "run"
    dlbench.train({"data": data, "model": {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "ff": 32},
                   "train": TRAIN}, run_dir=run)

    def texts(languages, seed):
        cfg = parse_config({"data": {**data, "languages": languages, "size": 2 * WINDOW, "seed": seed},
                            "model": {"name": "transformer"}})
        return build_data(cfg.data).train.sources[:WINDOW]

    def send(url, lines):
        for i in range(0, len(lines), 20):
            infer(url, "lang", [{"name": "text", "shape": [len(lines[i:i + 20])], "datatype": "BYTES",
                                 "data": lines[i:i + 20]}])
        return detected(metrics(url), "lang")

    with live_server([load_predictor(run, name="lang")], **SERVE) as url:
        assert not any(send(url, texts(["en", "fr"], 5)).values())
        drifted = {f for f, v in send(url, texts(["de", "pt"], 6)).items() if v}
        assert drifted & {"text.unknown_rate", "text.non_ascii_rate", "text.chars", "text.tokens"}


def test_a_full_disk_while_writing_the_profile_is_one_line_and_the_run_resumes(tmp_path, monkeypatch, run_cli):
    import yaml

    from dlbench.run.rundir import load_model_json
    from tests.conftest import tiny
    from tests.unit.run.disk import fill_disk

    cfg, run = tmp_path / "c.yaml", tmp_path / "r"
    cfg.write_text(yaml.safe_dump(tiny(steps=8, eval_every=4, log_every=4, checkpoint_every=4)))
    refused = fill_disk(monkeypatch, "reference_profile.json")
    code, out, err = run_cli("train", cfg, "--run-dir", run, "-q")
    assert refused and code == 2 and "Traceback" not in err and "reference_profile.json: No space left" in err
    assert not list(tmp_path.rglob(".*.tmp")) and not (run / "model.json").exists()
    monkeypatch.undo()
    code, _, err = run_cli("train", cfg, "--run-dir", run, "-q", "--resume")
    assert code == 0, err
    from dlbench.monitor.profile import load_profile

    assert load_profile(run, load_model_json(run)[0])["inputs"]


def test_louder_audio_crosses_the_loudness_thresholds(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)

    def clip(hz, n=None):  # 0.2-0.3 s of a tone with some noise, 8 kHz
        t = np.arange(n or int(8000 * rng.uniform(0.2, 0.3))) / 8000
        return (rng.uniform(0.2, 0.4) * np.sin(2 * np.pi * hz * t) + 0.02 * rng.normal(size=len(t))).astype(np.float32)

    for label, hz in (("low", 300), ("high", 1200)):
        (tmp_path / "wav" / label).mkdir(parents=True)
        for i in range(24):
            sf.write(tmp_path / "wav" / label / f"{i}.wav", clip(hz), 8000)
    run = tmp_path / "run"
    dlbench.train({"data": {"kind": "audio-folder", "path": str(tmp_path / "wav")},
                   "model": {"name": "cnn", "stages": [{"channels": 4, "kernel": 3}]}, "train": TRAIN}, run_dir=run)

    def send(url, gain):
        for _ in range(WINDOW // 10):  # 10 clips of one length per request (samples are [batch, length])
            n = int(8000 * rng.uniform(0.2, 0.3))
            x = np.stack([clip(rng.choice([300, 1200]), n) for _ in range(10)])
            infer(url, "tones", [{"name": "samples", "shape": list(x.shape), "datatype": "FP32",
                                  "data": (gain * x).ravel().tolist()}])
        return {f for f, v in detected(metrics(url), "tones").items() if v}

    with live_server([load_predictor(run, name="tones")], **SERVE) as url:
        assert send(url, 1.0) == set()
        assert {"audio.rms", "audio.peak"} <= send(url, 3.0)


# --- language models and forecasters -----------------------------------------------------------------------------

LM_WORDS = ["cat", "dog", "bird", "fish"]
LM_TEXT = "".join(f"the {LM_WORDS[i % 4]} sees the {LM_WORDS[(i * 3) % 4]} at {i % 10}.\n" for i in range(500))


def _prompts(rng, n: int, lo: int, hi: int) -> list[str]:
    """n prompts cut from the corpus, lo to hi characters long (log-uniform, as the reference's are)."""
    lengths = np.clip(np.exp(rng.uniform(np.log(lo), np.log(hi + 1), n)).astype(int), lo, hi)
    starts = rng.integers(0, len(LM_TEXT) - hi, n)
    return [LM_TEXT[a:a + k] for a, k in zip(starts, lengths)]


def test_language_model_prompts_are_monitored_over_generate_stream_and_infer(tmp_path, run_cli):
    (tmp_path / "notes.txt").write_text(LM_TEXT, encoding="utf-8")
    run = tmp_path / "lm"
    dlbench.train({"data": {"kind": "corpus", "path": str(tmp_path / "notes.txt"), "context": 32},
                   "model": {"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "dropout": 0.0},
                   "name": "lm", "train": {**TRAIN, "steps": 10, "batch_size": 16}}, run_dir=run)
    profile = json.loads((run / "reference_profile.json").read_text())
    assert [f["name"] for f in profile["inputs"]] == ["text.chars", "text.tokens", "text.unknown_rate",
                                                      "text.non_ascii_rate"]
    assert profile["inputs"][0]["min"] == 1 and profile["inputs"][0]["max"] <= 32 and profile["outputs"] == []
    rng = np.random.default_rng(0)
    log = tmp_path / "requests.jsonl"
    with live_server([load_predictor(run, name="lm")], request_log=log, request_log_sample_rate=1.0, **SERVE) as url:
        gen = {"max_new_tokens": 1, "greedy": True}
        for i in range(3):  # in distribution: /generate with lists, /infer, one streamed prompt
            r = httpx.post(f"{url}/v2/models/lm/generate", json={"text_input": _prompts(rng, 60, 1, 32),
                                                                  "parameters": gen}, timeout=60)
            assert r.status_code == 200 and r.json()["parameters"]["far_outside_training_range"] is False, r.text
        r = httpx.post(f"{url}/v2/models/lm/infer", timeout=60, json={"parameters": gen, "inputs": [
            {"name": "text_input", "datatype": "BYTES", "shape": [30], "data": _prompts(rng, 30, 1, 32)}]})
        assert r.status_code == 200 and r.json()["parameters"]["far_outside_training_range"] is False, r.text
        with httpx.stream("POST", f"{url}/v2/models/lm/generate_stream", timeout=60,
                          json={"text_input": "the cat", "parameters": gen}) as s:
            last = json.loads([line for line in s.iter_lines() if line.startswith("data: ")][-1][6:])
        assert last["parameters"] == {"far_outside_training_range": False}
        ms = metrics(url)
        assert gauge(ms, "dlbench_monitor_reference", model="lm", version="1") == 1
        assert gauge(ms, "dlbench_monitor_window_rows", model="lm", version="1") == WINDOW  # 211 prompts seen
        assert not any(detected(ms, "lm").values()), detected(ms, "lm")
        # Shifted: prompts several times longer than any the model was trained on (far outside: flagged).
        for i in range(4):
            r = httpx.post(f"{url}/v2/models/lm/generate", json={"text_input": _prompts(rng, 60, 120, 200),
                                                                  "parameters": gen}, timeout=60)
            assert r.json()["parameters"]["far_outside_training_range"] is True
            assert "text.chars" in r.json()["parameters"]["far_outside_features"]
        ms = metrics(url)
        assert detected(ms, "lm")["text.chars"] == 1 and detected(ms, "lm")["text.tokens"] == 1
        assert gauge(ms, "dlbench_far_outside_requests_total", model="lm", version="1") == 4
        # Text in another language: refused (400, characters outside the vocabulary), yet counted in the window.
        greek = ["η γάτα βλέπει τον σκύλο", "το πουλί στο 3.", "καλημέρα"]
        for i in range(4):
            r = httpx.post(f"{url}/v2/models/lm/generate", timeout=60,
                           json={"text_input": [greek[j % 3] for j in range(60)], "parameters": gen})
            assert r.status_code == 400 and "outside the model's vocabulary" in r.text
        r = httpx.post(f"{url}/v2/models/lm/generate_stream", json={"text_input": greek[0]}, timeout=60)
        assert r.status_code == 400
        ms = metrics(url)
        assert detected(ms, "lm")["text.unknown_rate"] == 1 and detected(ms, "lm")["text.non_ascii_rate"] == 1
    # Offline: the request log, and a prompts file (one per line, as `dlbench generate --prompts` reads).
    code, out, err = run_cli("monitor", run, log, "--output", tmp_path / "log.html")
    assert code == 1 and "text.chars" in err, err
    (tmp_path / "quiet.txt").write_text("\n".join(p.replace("\n", "\\n") for p in _prompts(rng, 150, 1, 32)))
    code, out, err = run_cli("monitor", run, tmp_path / "quiet.txt", "--output", tmp_path / "quiet.html", "--json")
    assert code == 0 and json.loads(out)["rows"] == 150 and "no drift" in err, err


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    """Two daily series with an observed covariate; the run and its history file."""
    d = tmp_path_factory.mktemp("fc")
    rows = []
    for key, base in (("a", 100.0), ("b", 50.0)):
        t = np.arange(300)
        y = base + 3 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(int(base)).normal(0, 0.5, len(t))
        rows += [{"day": i, "store": key, "sales": round(y[i], 3), "temp": round(20 + 5 * np.sin(i / 5), 2)}
                 for i in t]
    import pandas as pd

    pd.DataFrame(rows).to_csv(d / "sales.csv", index=False)
    dlbench.train({"data": {"kind": "timeseries", "path": str(d / "sales.csv"), "target": "sales", "time": "day",
                            "id": "store", "observed": ["temp"]},
                   "model": {"name": "mlp"}, "name": "fc", "train": {**TRAIN, "steps": 10}}, run_dir=d / "fc")
    return d


def test_forecasting_history_is_profiled_and_a_shifted_target_is_reported(forecast_run, tmp_path, run_cli):
    import pandas as pd

    run = forecast_run / "fc"
    profile = json.loads((run / "reference_profile.json").read_text())
    assert [f["name"] for f in profile["inputs"]] == ["sales", "temp"]
    assert "training period" in profile["source"]["inputs"] and "histories of 210-210 steps" in profile["source"]["inputs"]
    code, out, err = run_cli("monitor", run, forecast_run / "sales.csv", "--output", tmp_path / "same.html", "--json")
    assert code == 0 and "no drift" in err, err
    assert json.loads(out)["rows"] == 600 and "2 series" in json.loads(out)["source"]
    f = pd.read_csv(forecast_run / "sales.csv")
    f["sales"] += 2 * f.groupby("store")["sales"].transform("std")  # both series 2 standard deviations up
    f.to_csv(tmp_path / "shifted.csv", index=False)
    code, out, err = run_cli("monitor", run, tmp_path / "shifted.csv", "--output", tmp_path / "shift.html", "--json")
    s = {x["feature"]: x for x in json.loads(out)["inputs"]}
    assert code == 1 and s["sales"]["drifted"] and not s["temp"]["drifted"], err
    assert (tmp_path / "shift.html").read_text().count("DRIFT") >= 1
    code, _, err = run_cli("monitor", run, tmp_path / "shift.html")
    assert code == 2 and "CSV of series history" in err and len(err.strip().splitlines()) == 1, err
