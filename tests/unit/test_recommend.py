"""`recommend`: each kind of data gets the right family, reasons, sizes scaled to the data, and a config
that `dlbench train` accepts as written (each one is trained for a few steps here)."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from dlbench.errors import UserError
from dlbench.recommend import Profile, build_config, inspect, recommend, tier

FEW = ["train.steps=2", "train.eval_every=2", "train.log_every=1", "train.checkpoint_every=2",
       "train.eval_train_samples=20"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import pandas as pd
    from num2words import num2words
    from PIL import Image

    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    n = 240
    df = pd.DataFrame({"customer_id": np.arange(n) + 1000, "age": rng.integers(18, 80, n),
                       "plan": rng.choice(["basic", "pro", "max"], n), "monthly": rng.normal(50, 10, n).round(2)})
    df["churn"] = np.where((df.monthly > 55) | (df.plan == "basic"), "yes", "no")
    df.loc[3, "monthly"] = np.nan
    df.to_csv(d / "customers.csv", index=False)
    words = ["good", "great", "bad", "awful", "movie", "plot", "actor", "fine", "boring", "fun"]
    texts = [" ".join(rng.choice(words, 8)) for _ in range(120)]
    pd.DataFrame({"review": texts, "sentiment": [("pos", "neg")[i % 2] for i in range(120)]}).to_csv(
        d / "reviews.csv", index=False)
    t = np.linspace(0, 1, 32)
    y = rng.integers(0, 3, n)
    x = np.sin(2 * np.pi * (y[:, None] + 1) * t[None] + rng.uniform(0, 6, (n, 1))) + 0.1 * rng.normal(size=(n, 32))
    sig = pd.DataFrame(x, columns=[f"t{i}" for i in range(32)])
    sig["label"] = y
    sig.to_csv(d / "signals.csv", index=False)
    np.savez(d / "signals.npz", x=x[:, None, :].astype(np.float32), y=y)
    np.savez(d / "flat.npz", x=rng.normal(size=(150, 6)).astype(np.float32), y=rng.normal(size=150).astype(np.float32))
    for c in ("cat", "dog"):
        (d / "images" / c).mkdir(parents=True)
        for i in range(15):
            Image.fromarray((rng.uniform(0, 255, (12, 12)) * (0.5 if c == "cat" else 1)).astype(np.uint8)).save(
                d / "images" / c / f"{i}.png")
    (d / "pairs.tsv").write_text("".join(f"{num2words(i)}\t{num2words(i, lang='fr')}\n" for i in range(150)))
    return d


CASES = [  # (arguments, family recommended and written, its title, facts that must be stated)
    (("customers.csv", "churn"), "mlp", "MLP", ["identifier(s) left out (customer_id)", "missing values in monthly"]),
    (("reviews.csv", "sentiment"), "transformer", "Transformer (encoder)", ["text column 'review'"]),
    (("signals.csv", None), "rnn", "RNN (GRU)", ["ordered sequence"]),
    (("signals.npz", None), "cnn", "1-D CNN", ["x [240, 1, 32]"]),
    (("flat.npz", None), "mlp", "MLP", ["y: numeric targets"]),
    (("images", None), "cnn", "CNN", ["30 images in 2 class folders", "grayscale"]),
    (("pairs.tsv", None), "rnn", "RNN encoder-decoder", ["150 source<TAB>target pairs"]),
]


@pytest.mark.parametrize("args,family,title,facts", CASES, ids=[c[0][0] for c in CASES])
def test_recommend_writes_a_config_that_trains(data, monkeypatch, args, family, title, facts):
    import dlbench
    from dlbench.schema import load_config

    monkeypatch.chdir(data)
    path, target = args
    rec = recommend(path, target)
    assert rec.family == rec.written_family == rec.config["model"]["name"] == family and rec.title == title
    assert rec.note == ""
    for f in facts:
        assert any(f in x for x in rec.profile.facts), (f, rec.profile.facts)
    out = data / f"{data.joinpath(path).stem}-{rec.config['model']['name']}.yaml"
    assert rec.output == out.relative_to(data) and out.is_file()
    text = out.read_text()
    assert text.startswith("# Starter config written by `dlbench recommend") and f"# $ dlbench train {rec.output}" in text
    assert all(f"#   - {r}" in text for r in rec.reasons)
    cfg = load_config(out)  # what `dlbench train FILE` does first
    assert cfg.data.path == path and cfg.model.name == family
    res = dlbench.train(str(out), FEW, run_dir=data / "runs" / out.stem)
    assert res.result["training"]["steps"] == 2
    with pytest.raises(UserError, match="already exists"):  # never overwritten
        recommend(path, target)


def test_generate_gan(data, monkeypatch):
    import dlbench

    monkeypatch.chdir(data)
    rec = recommend("images", goal="generate", output="gen.yaml")
    assert rec.family == "gan" and rec.written_family == "gan" and rec.config["model"]["conditional"] is True
    assert "optim" not in rec.config  # a GAN's two optimizers live in the model section
    res = dlbench.train("gen.yaml", [*FEW, "model.reference.steps=2", "model.eval_samples=10"], run_dir="runs/gen")
    assert res.result["task"] == "generation"


def test_families_missing_from_the_registry(data, monkeypatch, tmp_path):
    from dlbench.recipes import registry

    monkeypatch.chdir(data)
    monkeypatch.delitem(registry.RECIPES, "gan")
    rec = recommend("images", goal="generate", output=str(tmp_path / "g.yaml"))
    assert rec.family == rec.written_family == "cnn"  # the best family there is, said plainly
    assert "no family in this dlbench generates image data" in rec.note and "uses CNN instead" in rec.note
    assert yaml.safe_load((tmp_path / "g.yaml").read_text())["data"]["path"] == str(data / "images")
    monkeypatch.delitem(registry.RECIPES, "transformer")
    rec = recommend("reviews.csv", "sentiment", write=False)
    assert rec.written_family == "rnn" and rec.config["model"]["name"] == "rnn"  # the RNN text classifier
    monkeypatch.delitem(registry.RECIPES, "rnn")
    rec = recommend("reviews.csv", "sentiment", write=False)
    assert rec.config is None and "No config was written" in rec.note


def test_sizes_scale_with_the_data():
    from dlbench.recommend import choose

    def cfg(n, shape=(20,)):
        pr = Profile(None, "tabular", "classification", n, {"kind": "csv", "target": "y"}, shape, classes=2)
        return build_config(pr, choose(pr, "predict")[0], "d.csv")

    small, large = cfg(500), cfg(200_000)
    assert small["model"]["hidden"] == [64, 64] and large["model"]["hidden"] == [512, 512, 512]
    assert small["model"]["dropout"] > large["model"]["dropout"]
    assert small["optim"]["weight_decay"] > large["optim"]["weight_decay"]
    assert small["train"]["batch_size"] < large["train"]["batch_size"]
    assert tier(500)["epochs"] > tier(200_000)["epochs"]


@pytest.mark.parametrize("setup,match", [
    (lambda d: d / "nope.csv", "does not exist"),
    (lambda d: (d / "x.parquet").write_bytes(b"PAR1") and d / "x.parquet", "cannot tell what kind of data"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no images in class sub-folders"),
    (lambda d: (d / "t.csv").write_text("a,b\n1,2\n3,4\n") and d / "t.csv", "which column should the model predict"),
    (lambda d: (d / "u.txt").write_text("just some text\nno tabs here\n") and d / "u.txt", "not a parallel text file"),
    (lambda d: np.savez(d / "n.npz", a=np.zeros(3)) or d / "n.npz", "needs an array named 'x'"),
])
def test_unrecognizable_data(tmp_path, setup, match):
    with pytest.raises(UserError, match=match):
        inspect(setup(tmp_path))
