"""What the monitor measures in each row of a request: a few numbers, the same at training and at serving time.

Inputs are request tensors, what a client sends (raw units, before the run's preprocessing), so a profile made
from a split's raw requests (`codec.requests`) and live traffic are compared in the same units. One extractor per
input kind (the run's codec kind) in the one table below; the supervised predictor's outputs have their own.

A feature is numeric (one value per row) or categorical (per row an index into its known categories; the index
len(categories) means "unseen"). `extract` gives a float64 matrix [rows, features] in the order of `features`.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

PER_VALUE_LIMIT = 64
"""Arrays with at most this many values per sample get a feature per value (tabular arrays, short signals);
longer ones (images as arrays, long signals) only their per-sample statistics."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str = "numeric"
    """numeric | categorical"""
    categories: tuple[str, ...] = ()


def _codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    unseen = len(categories)
    return np.fromiter((index.get(v if isinstance(v, str) else _text(v), unseen) for v in values.reshape(-1)),
                       dtype=np.float64, count=values.size)


def _text(v) -> str:
    return v.decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray)) else str(v)


class Extractor:
    features: list[Feature]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def extract(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class ArrayFeatures(Extractor):
    """`input` [-1, *shape]: each value (short arrays) and each sample's mean, std, min and max."""

    def __init__(self, codec):
        self.size = int(np.prod(codec.pre.input_shape))
        self.per_value = self.size <= PER_VALUE_LIMIT
        names = [f"input[{i}]" for i in range(self.size)] if self.per_value else []
        self.features = [Feature(n) for n in names + ["input.mean", "input.std", "input.min", "input.max"]]

    def extract(self, tensors):
        if len(tensors["input"]) == 1 and self.per_value:  # long arrays are numpy's
            return self._one(tensors["input"].reshape(-1))
        x = np.asarray(tensors["input"], dtype=np.float64).reshape(len(tensors["input"]), -1)
        out = np.empty((len(x), len(self.features)))
        d = self.size if self.per_value else 0
        if d:
            out[:, :d] = x
        # ufunc reductions, not x.mean()/x.std(): on one-row requests numpy's method overhead is most of the cost
        mean = np.add.reduce(x, axis=1) / x.shape[1]
        out[:, d] = mean
        out[:, d + 1] = np.sqrt(np.maximum(np.add.reduce(x * x, axis=1) / x.shape[1] - mean * mean, 0.0))
        out[:, d + 2] = np.minimum.reduce(x, axis=1)
        out[:, d + 3] = np.maximum.reduce(x, axis=1)
        return out

    def _one(self, x: np.ndarray) -> np.ndarray:
        # One-row requests are the common case online; on a few dozen values Python's sum/min/max beat numpy's
        # per-call overhead several times over (the monitoring overhead benchmark's load is exactly this).
        v = x.tolist()
        mean = sum(v) / len(v)
        std = math.sqrt(max(sum(map(operator.mul, v, v)) / len(v) - mean * mean, 0.0))
        out = np.empty((1, len(self.features)))
        out[0, :self.size] = x
        out[0, -4:] = (mean, std, min(v), max(v))
        return out


class ImageFeatures(Extractor):
    """`image` uint8 [-1, H, W(, 3)]: brightness and contrast (mean and std of pixels, 0-1), per-channel means."""

    def __init__(self, codec):
        self.rgb = codec.pre.channels == 3
        names = ["image.brightness", "image.contrast"] + (["image.red", "image.green", "image.blue"] if self.rgb else [])
        self.features = [Feature(n) for n in names]

    def extract(self, tensors):
        px = np.asarray(tensors["image"], dtype=np.float32) / 255.0
        flat = px.reshape(len(px), -1)
        cols = [flat.mean(1), flat.std(1)]
        if self.rgb:
            cols += [px[..., c].reshape(len(px), -1).mean(1) for c in range(3)]
        return np.stack(cols, axis=1).astype(np.float64)


class TabularFeatures(Extractor):
    """One feature per column: numeric columns as they are, text columns as their category."""

    def __init__(self, codec):
        pre = codec.pre
        self.features = [Feature(n["name"]) for n in pre.numeric] + \
            [Feature(c["name"], "categorical", tuple(map(str, c["categories"]))) for c in pre.categorical]

    def extract(self, tensors):
        rows = len(next(iter(tensors.values())))
        out = np.empty((rows, len(self.features)))
        for j, f in enumerate(self.features):
            v = tensors[f.name]
            out[:, j] = _codes(v, f.categories) if f.kind == "categorical" else np.asarray(v, dtype=np.float64)
        return out


class TextFeatures(Extractor):
    """`text` BYTES [-1] (a classifier's or translator's input) or `text_input` BYTES [-1] (a language model's
    prompts): length in characters and in tokens, the share of tokens the vocabulary lacks (<unk>), and the share
    of non-ASCII characters (text in another language or script moves the last two)."""

    features = [Feature("text.chars"), Feature("text.tokens"), Feature("text.unknown_rate"),
                Feature("text.non_ascii_rate")]

    def __init__(self, codec):
        from dlbench.data.tokenize import UNK

        self.tokenizer, self.unk = codec.pre.tokenizer, UNK

    def extract(self, tensors):
        given = tensors["text"] if "text" in tensors else tensors["text_input"]
        texts = [_text(v) for v in np.asarray(given, dtype=object).reshape(-1)]
        out = np.zeros((len(texts), 4))
        for i, t in enumerate(texts):
            ids = self.tokenizer.encode(t)
            chars = len(t)
            out[i] = (chars, len(ids), ids.count(self.unk) / len(ids) if ids else 0.0,
                      sum(ord(c) > 127 for c in t) / chars if chars else 0.0)
        return out


class AudioFeatures(Extractor):
    """`audio` (files as BYTES) or `samples` FP32 [-1, -1]: each clip's duration in seconds (before the model pads
    or crops it), loudness (RMS), peak and zero-crossing rate (a rough pitch / noisiness measure)."""

    features = [Feature("audio.seconds"), Feature("audio.rms"), Feature("audio.peak"), Feature("audio.zero_crossings")]

    def __init__(self, codec):
        self.rate = int(codec.pre.sample_rate)

    def _clips(self, tensors):
        if "samples" in tensors:
            return [(np.asarray(w, dtype=np.float64), self.rate) for w in tensors["samples"]]
        from dlbench.codecs.audio import file_bytes  # decoders load only for audio models
        from dlbench.data.audio_signal import decode

        return [decode(file_bytes(v, i), f"input 'audio'[{i}]") for i, v in enumerate(tensors["audio"])]

    def extract(self, tensors):
        clips = self._clips(tensors)
        out = np.zeros((len(clips), 4))
        for i, (x, rate) in enumerate(clips):
            x = np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(1) if np.ndim(x) > 1 else np.asarray(x, float)
            if len(x):
                out[i] = (len(x) / rate, np.sqrt(np.mean(x * x)), np.abs(x).max(),
                          np.mean(np.signbit(x[1:]) != np.signbit(x[:-1])) if len(x) > 1 else 0.0)
        return out


class SeriesFeatures(TabularFeatures):
    """A forecaster's history, one row per time step (monitor/series.py reads them from a history CSV): each target
    and numeric covariate in its own units, each text covariate as its category. History lengths are not a row
    feature (a history grows with time, that is no drift); the profile's source and the report state them."""

    def __init__(self, codec):
        e = codec.pre
        self.features = [Feature(t) for t in e.targets] + [
            Feature(c["name"]) if c["type"] == "numeric" else
            Feature(c["name"], "categorical", tuple(map(str, c["categories"]))) for c in e.known + e.observed]


INPUTS: dict[str, type[Extractor]] = {"array": ArrayFeatures, "image": ImageFeatures, "tabular": TabularFeatures,
                                      "text": TextFeatures, "audio": AudioFeatures, "series": SeriesFeatures}
"""Codec kind -> the extractor of its request tensors (one table; a kind not here is not monitored)."""


def input_features(codec) -> Extractor | None:
    """The extractor for a run's inputs, or None when its input kind has none."""
    cls = INPUTS.get(getattr(codec, "kind", None))
    return cls(codec) if cls else None


class OutputFeatures(Extractor):
    """The supervised predictor's answers (recipes/predictor.py): a classifier's confidence (top probability) and
    label, a regressor's prediction(s), a translator's output length."""

    def __init__(self, output_names: list[str], class_names: list[str] | None = None, target_dim: int = 1):
        self.features: list[Feature] = []
        if "probabilities" in output_names:
            self.features.append(Feature("confidence"))
        if "label" in output_names:
            self.features.append(Feature("label", "categorical", tuple(class_names or ())))
        if "prediction" in output_names:
            self.features += [Feature("prediction")] if target_dim == 1 else \
                [Feature(f"prediction[{j}]") for j in range(target_dim)]
        if "translation" in output_names:
            self.features.append(Feature("translation.chars"))

    def extract(self, outputs):
        cols = []
        for f in self.features:
            if f.name == "confidence":
                cols.append(np.asarray(outputs["probabilities"], dtype=np.float64).max(axis=1))
            elif f.name == "label":
                cols.append(_codes(np.asarray(outputs["label"], dtype=object), f.categories))
            elif f.name == "translation.chars":
                cols.append(np.array([len(_text(t)) for t in np.asarray(outputs["translation"]).reshape(-1)], float))
            else:
                p = np.asarray(outputs["prediction"], dtype=np.float64)
                cols.append(p.reshape(len(p), -1)[:, int(f.name[11:-1]) if f.name.endswith("]") else 0])
        rows = len(next(iter(outputs.values()))) if outputs else 0
        return np.stack(cols, axis=1) if cols else np.zeros((rows, 0))


def output_features(spec, output_names: list[str]) -> OutputFeatures:
    """The output extractor of a run with this DataSpec, serving outputs of these names."""
    names = spec.class_names or ([str(i) for i in range(spec.num_classes)] if spec.num_classes else None)
    return OutputFeatures(output_names, names, spec.target_dim or 1)
