"""The reference profile of a freshly trained supervised model (called by training/supervised.py).

The inputs are profiled from the training split, the predictions from the validation split (unseen data, so its
confidences are the ones a server should expect), both exactly as the server sees them: the split's raw requests
(`codec.requests`) through the run's own serving predictor (`recipe.predictor`).

Two kinds of run have no raw requests in their splits and get their input rows elsewhere, inputs only:
  language models   prompts cut from the training windows (`lm_prompts`), the strings a client sends to
                    /generate, /generate_stream or /infer (text_input)
  forecasters       the training period of the run's own history file (monitor/series.py), what a client gives
                    `dlbench predict`; their predictions (scaled windows) are not profiled
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.monitor.features import SeriesFeatures, input_features, output_features
from dlbench.monitor.profile import build_profile

log = logging.getLogger(__name__)

INPUT_ROWS = 5000
"""Training rows profiled (the first ones: splits are shuffled)."""
OUTPUT_ROWS = 1000
"""Validation rows predicted for the prediction profile."""
CHUNK = 256


def predict_rows(predictor, requests: dict[str, np.ndarray], chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """The predictor's outputs for every row of `requests`, `chunk` rows per call."""
    n = len(next(iter(requests.values())))
    parts = [predictor.predict({k: v[i:i + chunk] for k, v in requests.items()}, {}) for i in range(0, n, chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def lm_prompts(train, context: int, tokenizer, rows: int, rng: np.random.Generator) -> np.ndarray:
    """`rows` prompts (BYTES) cut from random training windows (token ids [N, >= context]): each starts at a random
    token and is 1 to `context` tokens long, log-uniformly (short prompts as often as long ones, on a log scale)."""
    x = train.x.numpy() if hasattr(train.x, "numpy") else np.asarray(train.x)
    pick = rng.choice(len(x), rows, replace=len(x) < rows)  # few windows: several prompts from each
    spare = max(x.shape[1] - context, 0)
    lengths = np.clip(np.exp(rng.uniform(0, np.log(context + 1), len(pick))).astype(int), 1, context)
    starts = rng.integers(0, spare + 1, len(pick))
    texts = [tokenizer.decode(x[i, a:a + n].tolist()) for i, a, n in zip(pick, starts, lengths)]
    arr = np.empty(len(texts), dtype=object)
    arr[:] = [t.encode("utf-8") for t in texts]
    return arr


def _inputs_only(cfg, bundle, codec, inputs) -> tuple[np.ndarray, str] | None:
    """(input rows, their source) of runs whose splits hold no raw requests; None for the others."""
    if bundle.spec.task == "language_model":
        rng = np.random.default_rng(cfg.train.seed)
        context = int(bundle.spec.extras["context"])
        prompts = lm_prompts(bundle.train, context, codec.pre.tokenizer, INPUT_ROWS, rng)
        return (inputs.extract({"text_input": prompts}),
                f"{len(prompts)} prompts of 1 to {context} tokens cut from {len(bundle.train)} training windows")
    if isinstance(inputs, SeriesFeatures):
        from dlbench.monitor.series import training_rows

        rows, what = training_rows(cfg.data, codec.pre)
        return inputs.extract(rows), what
    return None


def reference_profile(recipe, cfg, bundle, model, task, info: dict, device) -> dict | None:
    """The profile of a trained model, or None (with a log line) when its inputs cannot be profiled."""
    from dlbench.codecs import codec_for
    from dlbench.run.loaded import LoadedRun

    codec = codec_for(bundle.preprocessing)
    inputs = input_features(codec)
    if inputs is None:
        log.info("no reference profile: inputs of kind '%s' have no monitor features", codec.kind)
        return None
    tokenizer_log = logging.getLogger("dlbench.data.tokenize")
    level = tokenizer_log.level  # its unknown-token warnings are for users' inputs, not for the validation split
    tokenizer_log.setLevel(logging.ERROR)
    try:
        only = _inputs_only(cfg, bundle, codec, inputs)
        if only is not None:
            return build_profile(inputs, only[0], None, None, {"inputs": only[1], "outputs": "not profiled"},
                                 seed=cfg.train.seed)
        train, val = bundle.train.subset(INPUT_ROWS), bundle.val.subset(OUTPUT_ROWS)
        input_rows = inputs.extract(codec.requests(train))
        loaded = LoadedRun(Path("."), cfg, info, bundle.spec, model, task, codec, device, recipe)
        predictor = recipe.predictor(loaded, cfg.name or "reference", "1")
        outputs = output_features(bundle.spec, [s.name for s in predictor.outputs()])
        output_rows = outputs.extract(predict_rows(predictor, codec.requests(val))) if len(val) else None
    except UserError as e:  # e.g. a split whose raw requests cannot be rebuilt: the server says "not monitored"
        log.info("no reference profile for drift monitoring: %s", e)
        return None
    except Exception as e:  # noqa: BLE001 - a family whose requests the monitor does not know must still train
        log.warning("no reference profile for drift monitoring (%s: %s)", type(e).__name__, str(e)[:200])
        return None
    finally:
        tokenizer_log.setLevel(level)
    source = {"inputs": f"training split, {len(input_rows)} of {len(bundle.train)} rows",
              "outputs": f"validation split, {len(val)} of {len(bundle.val)} rows"}
    return build_profile(inputs, input_rows, outputs, output_rows, source, seed=cfg.train.seed)
