"""What a query sample is, per served model family: the request, the logged response, the score.

LoadGen only deals in sample indices. A `Samples` object gives each index of the run's test split
its meaning:

    request(idx)   the predictor's inputs for these samples, *raw*, as a client sends them, so the
                   preprocessing stored in model.json runs inside the timed region;
    encode(out)    the bytes LoadGen logs for each sample in accuracy mode (mlperf_log_accuracy.json);
    score(logged)  those bytes scored with the model's own metric against the test labels.

The test split is rebuilt from the run's config exactly as `dlbench evaluate` does. It holds model
inputs (already preprocessed), so the raw requests are recovered by inverting the stored
preprocessing (x * std + mean, pixels * 255, one-hot -> category, token ids -> the kept source
texts). Re-preprocessing those requests gives the model the inputs evaluate gives it, which is
why accuracy mode's score equals evaluate's.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.serve.predictor import DATATYPES

log = logging.getLogger(__name__)


class Samples:
    """Base: a family's samples. `n` samples; `batchable` False means one sample per request."""

    family = "?"
    batchable = True
    scored = True

    def __init__(self, n: int):
        self.n = n

    def request(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def encode(self, outputs: dict[str, np.ndarray], n: int):
        """[n, k] uint8 rows (fixed size per sample) or a list of n bytes objects."""
        raise NotImplementedError

    def score(self, logged: dict[int, bytes]) -> dict:
        raise NotImplementedError


def _spec(predictor, name: str | None = None, datatype: str | None = None):
    for s in predictor.inputs():
        if (name is None or s.name == name) and (datatype is None or s.datatype == datatype):
            return s
    have = ", ".join(f"{s.name} ({s.datatype})" for s in predictor.inputs())
    raise UserError(f"model '{predictor.name}' has no input {name or datatype!r} (it takes {have})",
                    "this model family is not supported by bench infer")


def _out_name(predictor, wanted: tuple[str, ...]) -> str:
    names = [s.name for s in predictor.outputs()]
    for w in wanted:
        if w in names:
            return w
    raise UserError(f"model '{predictor.name}' answers {', '.join(names)}; bench infer needs one of "
                    f"{', '.join(wanted)}")


class Supervised(Samples):
    """Classifiers and regressors (MLP, CNN, RNN, Transformer classifiers): rows in, rows out.

    Logged per sample: the float32 class probabilities (classifiers) or predictions (regressors).
    """

    def __init__(self, inputs: dict[str, np.ndarray], y: np.ndarray, spec, out_name: str):
        super().__init__(len(y))
        self.inputs, self.y, self.spec, self.out_name = inputs, y, spec, out_name
        self.family = spec.task

    def request(self, idx):
        return {k: v[idx] for k, v in self.inputs.items()}

    def encode(self, outputs, n):
        rows = np.ascontiguousarray(np.asarray(outputs[self.out_name], dtype=np.float32).reshape(n, -1))
        return rows.view(np.uint8)

    def score(self, logged):
        from dlbench.metrics import classification_metrics, regression_metrics

        missing = self.n - len(logged)
        if missing:
            raise UserError(f"the accuracy log holds {len(logged)} of {self.n} test samples",
                            "accuracy mode must run every sample once; rerun with --accuracy")
        rows = np.stack([np.frombuffer(logged[i], dtype=np.float32) for i in range(self.n)])
        if self.spec.task == "classification":
            pred = rows.argmax(1)
            return classification_metrics(self.y, pred, self.spec.num_classes, self.spec.class_names, detailed=False)
        pred = rows[:, 0] if self.y.ndim == 1 else rows.reshape(self.y.shape)
        out = regression_metrics(self.y, pred)
        # evaluate's loss: MSE in standardized target units, which is what the model is trained on
        std = float(self.spec.extras.get("target_std", 1.0))
        out["loss"] = float(np.mean((pred.astype(np.float64) - self.y) ** 2) / std ** 2)
        return out


class Translation(Samples):
    """Translation (seq2seq): a source text in, a translation out; scored with BLEU / chrF."""

    family = "seq2seq"

    def __init__(self, sources: list[str], references: list[str], in_name: str, out_name: str):
        super().__init__(len(sources))
        self.sources = np.empty(len(sources), dtype=object)
        self.sources[:] = sources
        self.references, self.in_name, self.out_name = references, in_name, out_name

    def request(self, idx):
        return {self.in_name: self.sources[idx]}

    def encode(self, outputs, n):
        return [str(t).encode("utf-8") for t in outputs[self.out_name]]

    def score(self, logged):
        from dlbench.metrics.text import corpus_scores, exact_match

        if len(logged) != self.n:
            raise UserError(f"the accuracy log holds {len(logged)} of {self.n} test samples")
        hyps = [logged[i].decode("utf-8") for i in range(self.n)]
        return {**corpus_scores(hyps, self.references), "exact_match": exact_match(hyps, self.references)}


class Generation(Samples):
    """GAN generators: one request per sample (count 1, the test sample's label, seed = its index).

    Performance only: a generated sample has no label to be scored against; `dlbench evaluate`
    gives the Fréchet distance.
    """

    family, batchable, scored = "generation", False, False

    def __init__(self, labels: np.ndarray | None, predictor, out_name: str):
        super().__init__(len(labels))
        self.labels, self.out_name = labels, out_name
        self.specs = {s.name: s for s in predictor.inputs()}

    def request(self, idx):
        i = int(idx[0])
        req = {}
        for name, s in self.specs.items():
            dt = DATATYPES[s.datatype]
            if name == "count":
                req[name] = np.array([1], dtype=dt)
            elif name == "labels":
                req[name] = np.array([self.labels[i]], dtype=dt)
            elif name == "seed":
                req[name] = np.array([i], dtype=dt)
        return req

    def encode(self, outputs, n):
        return np.ascontiguousarray(np.asarray(outputs[self.out_name], dtype=np.float32).reshape(n, -1)).view(np.uint8)

    def score(self, logged):
        raise UserError("accuracy mode is for models with labels to score against",
                        "a generator's Fréchet distance comes from `dlbench evaluate RUN`")


# --- building from a loaded run ----------------------------------------------------------------

def _count_test_access(path: Path) -> None:
    """The queries are the test split's inputs: counted in RUN/test_access.jsonl like every other opening
    (performance runs send inputs only and score nothing; --accuracy adds its own line when it scores them)."""
    from dlbench.run.rundir import RunDir

    try:
        RunDir(path).record_test_access("dlbench bench infer (inputs as queries)")
    except UserError as e:  # a read-only run directory: measure anyway, say the look is not counted
        log.warning("the test split was opened but could not be counted: %s", e)


def load_samples(run_dir: str | Path, predictor) -> Samples:
    """The run's test split, rebuilt from its config (as `dlbench evaluate` does), as query samples.

    `predictor` is the run as served (`serve.runs.load_predictor`); its `run` is the loaded run."""
    from dlbench.codecs.base import split_arrays
    from dlbench.data.registry import build_data

    run = predictor.run
    test = build_data(run.config.data).open_test("dlbench bench infer")
    _count_test_access(run.path)
    task = run.recipe.run_task(run.spec)
    if task == "seq2seq":
        inp = _spec(predictor, datatype="BYTES")
        refs = getattr(test, "targets", None)
        if not refs:
            raise UserError("the rebuilt test split has no reference texts", "is the run from an older dlbench?")
        return Translation(list(test.sources), list(refs), inp.name, _out_name(predictor, ("translation",)))
    if task == "generation":
        y = test.y.numpy() if test.in_memory and test.y is not None else np.zeros(len(test), np.int64)
        return Generation(y, predictor, _out_name(predictor, ("samples",)))
    if task not in ("classification", "regression"):
        raise UserError(f"bench infer does not support {task} models")
    out = _out_name(predictor, ("probabilities", "prediction"))
    y = test.y.numpy() if test.in_memory else split_arrays(test)[1]
    requests = run.codec.requests(test)
    for s in predictor.inputs():  # as the client sends them: in the advertised datatypes
        if s.name in requests and s.datatype.startswith("FP"):
            requests[s.name] = requests[s.name].astype(DATATYPES[s.datatype])
    return Supervised(requests, y, run.spec, out)
