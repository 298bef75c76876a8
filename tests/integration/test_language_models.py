"""Language models and RNN text classifiers end to end through the CLI: recommend -> train -> evaluate ->
generate -> serve (a real HTTP client: /infer with BYTES, /generate, /generate_stream as server-sent events),
with the bad inputs of issue 22 answered in one line (exit 2, or a 4xx)."""
import json

import httpx
import pandas as pd
import pytest
import yaml

from dlbench.serve.runs import load_predictor
from tests.unit.serve.serve_fakes import live_server, make_keys

WORDS = ["cat", "dog", "bird", "fish"]
TEXT = "".join(f"the {WORDS[i % 4]} sees the {WORDS[(i * 3) % 4]} at {i % 10}.\n" for i in range(500))


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """A tiny char-level Transformer LM trained through the CLI, and its folder."""
    import dlbench

    d = tmp_path_factory.mktemp("lm")
    (d / "notes.txt").write_text(TEXT, encoding="utf-8")
    dlbench.train({"data": {"kind": "corpus", "path": str(d / "notes.txt"), "context": 32},
                   "model": {"name": "transformer", "d_model": 32, "heads": 2, "layers": 2, "dropout": 0.0},
                   "optim": {"lr": 3e-3}, "name": "lm",
                   "train": {"steps": 60, "batch_size": 16, "eval_every": 30, "eval_train_samples": 32, "threads": 1}},
                  run_dir=d / "lm")
    return d


def test_recommend_train_evaluate_generate(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    for i in range(2):
        (tmp_path / "notes" / f"{i}.txt").write_text(TEXT[i * 9000:(i + 1) * 9000], encoding="utf-8")
    code, out, err = run_cli("recommend", "notes/", "--goal", "generate", "--output", "lm.yaml")
    assert code == 0, err
    cfg = yaml.safe_load((tmp_path / "lm.yaml").read_text())
    assert cfg["data"]["kind"] == "corpus" and cfg["model"]["name"] == "transformer"
    code, out, err = run_cli("train", "lm.yaml", "--run-dir", "runs/lm", "-o", "train.steps=20", "-o",
                             "train.eval_every=10", "-o", "model.d_model=32", "-o", "model.layers=1",
                             "-o", "data.context=32", "-o", "train.threads=1")
    assert code == 0, err
    code, out, err = run_cli("evaluate", "runs/lm", "--split", "test")
    assert code == 0, err
    assert "bits_per_char" in out and "perplexity" in out
    result = json.loads((tmp_path / "runs/lm/result.json").read_text())
    assert result["task"] == "language_model" and result["val"]["samples"]


def test_generate_cli_is_reproducible_and_bad_input_is_one_line(lm_run, run_cli, tmp_path):
    run = lm_run / "lm"
    args = ("generate", run, "--prompt", "the cat", "--max-new-tokens", "40", "--temperature", "0.8",
            "--top-k", "10", "--seed", "1")
    code, a, err = run_cli(*args)
    assert code == 0, err
    assert run_cli(*args)[1] == a and a.startswith("the cat") and len(a) > len("the cat")
    (tmp_path / "prompts.txt").write_text("the dog\nthe fish\n", encoding="utf-8")
    code, _, err = run_cli("generate", run, "--prompts", tmp_path / "prompts.txt", "--greedy", "--stop", ".",
                           "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["the dog", "the fish"] and all("." not in r["text"] for r in rows)
    for bad, words in [(("--prompt", "the Zebra"), "outside the model's vocabulary"),
                       (("--prompt", "x", "--temperature", "-1"), "temperature"),
                       (("--prompt", "the", "--max-new-tokens", "99999999"), "max_new_tokens"),
                       (("--prompt", "the", "--top-p", "2"), "top_p"),
                       (("--prompt", "the", "--label", "3"), "GAN"),
                       (("--prompt", "the", "--output", tmp_path / "out.jsonl"), "already exists")]:
        code, _, err = run_cli("generate", run, *bad)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli("predict", run, tmp_path / "prompts.txt")
    assert code == 2 and "dlbench generate" in err


def test_serving_text_in_text_out_and_streaming(lm_run, tmp_path):
    keys, key = make_keys(tmp_path)
    pred = load_predictor(lm_run / "lm", name="lm")
    auth = {"Authorization": f"Bearer {key}"}
    params = {"max_new_tokens": 30, "temperature": 0.8, "seed": 3}
    with live_server([pred], api_keys_path=keys) as url:
        assert httpx.post(f"{url}/v2/models/lm/generate", json={"text_input": "the"}).status_code == 401
        meta = httpx.get(f"{url}/v2/models/lm", headers=auth).json()
        assert meta["inputs"] == [{"name": "text_input", "datatype": "BYTES", "shape": [-1]}]
        r = httpx.post(f"{url}/v2/models/lm/infer", headers=auth, json={
            "parameters": params,
            "inputs": [{"name": "text_input", "datatype": "BYTES", "shape": [2], "data": ["the cat", "the dog"]}]})
        assert r.status_code == 200, r.text
        infer = {o["name"]: o["data"] for o in r.json()["outputs"]}
        assert len(infer["text_output"]) == 2 and infer["finish_reason"] == ["length", "length"]
        r = httpx.post(f"{url}/v2/models/lm/generate", headers=auth,
                       json={"id": "g1", "text_input": "the cat", "parameters": params})
        assert r.status_code == 200, r.text
        gen = r.json()
        assert gen["id"] == "g1" and gen["text_output"] == infer["text_output"][0]  # same seed, same text
        pieces, final = [], None
        with httpx.stream("POST", f"{url}/v2/models/lm/generate_stream", headers=auth,
                          json={"text_input": "the cat", "parameters": params}) as s:
            assert s.status_code == 200 and s.headers["content-type"].startswith("text/event-stream")
            for line in s.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    assert "error" not in event, event
                    if "finish_reason" in event:
                        final = event
                    else:
                        pieces.append(event["text_output"])
        assert len(pieces) > 1 and "".join(pieces) == gen["text_output"] and final["finish_reason"]
        for body, status, words in [
                ({"text_input": "the", "parameters": {"max_new_tokens": 10**6}}, 400, "max_new_tokens"),
                ({"text_input": "the", "max_tokens": 10**6}, 400, "max_new_tokens"),
                ({"text_input": "x" * 30_000}, 400, "over this server's limit of 20000"),
                ({"text_input": "the Zebra"}, 400, "vocabulary"),
                ({"text_input": 3}, 400, "text_input"),
                ({"text_input": "the", "parameters": {"temperature": -2}}, 400, "temperature"),
                ({"text_input": "the", "colour": "red"}, 400, "colour")]:
            for route in ("generate", "generate_stream"):
                r = httpx.post(f"{url}/v2/models/lm/{route}", headers=auth, json=body)
                assert r.status_code == status and words in r.json()["error"], (route, body, r.text)
        assert httpx.post(f"{url}/v2/models/nope/generate", headers=auth, json={"text_input": "a"}).status_code == 404
        metrics = httpx.get(f"{url}/metrics", headers=auth).text
        assert 'endpoint="generate"' in metrics


def test_the_servers_generation_limits_are_settings(lm_run):
    pred = load_predictor(lm_run / "lm", name="lm")
    with live_server([pred], no_auth=True, max_new_tokens=8, max_prompt_chars=12) as url:
        ok = httpx.post(f"{url}/v2/models/lm/generate", json={"text_input": "the cat", "parameters": {"max_new_tokens": 8}})
        assert ok.status_code == 200, ok.text
        for body, words in [({"text_input": "the", "parameters": {"max_new_tokens": 9}}, "limit of 8"),
                            ({"text_input": "the cat the cat", "parameters": {"max_new_tokens": 2}}, "limit of 12")]:
            for route in ("generate", "generate_stream"):
                r = httpx.post(f"{url}/v2/models/lm/{route}", json=body)
                assert r.status_code == 400 and words in r.json()["error"], (route, r.text)
        r = httpx.post(f"{url}/v2/models/lm/infer", json={"parameters": {"max_new_tokens": 9}, "inputs": [
            {"name": "text_input", "datatype": "BYTES", "shape": [1], "data": ["the"]}]})
        assert r.status_code == 400 and "limit of 8" in r.json()["error"]


def test_rnn_sentiment_classifier_trains_and_predicts_by_its_text_column(tmp_path, run_cli, write_yaml):
    rows = [(f"{w} film number {k}", "pos" if w in ("good", "great", "fine") else "neg")
            for k in range(40) for w in ("good", "great", "fine", "bad", "awful", "dull")]
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(tmp_path / "reviews.csv", index=False)
    cfg = write_yaml({"data": {"kind": "text-csv", "path": str(tmp_path / "reviews.csv"), "text_column": "review",
                               "label_column": "sentiment", "max_len": 8},
                      "model": {"name": "rnn", "embedding_dim": 16, "hidden_size": 16},
                      "optim": {"lr": 1e-2}, "train": {"steps": 60, "batch_size": 32, "eval_every": 20,
                                                       "threads": 1}})
    code, out, err = run_cli("train", cfg, "--run-dir", tmp_path / "r")
    assert code == 0, err
    result = json.loads((tmp_path / "r/result.json").read_text())
    assert result["test"]["accuracy"] >= 0.9
    pd.DataFrame({"review": ["great film number 3", "awful film number 7"]}).to_csv(tmp_path / "new.csv", index=False)
    code, out, err = run_cli("predict", tmp_path / "r", tmp_path / "new.csv")
    assert code == 0, err
    assert "pos" in out and "neg" in out
