"""The reference profile of a freshly trained supervised model (called by training/supervised.py).

The inputs are profiled from the training split, the predictions from the validation split (unseen data, so its
confidences are the ones a server should expect), both exactly as the server sees them: the split's raw requests
(`codec.requests`) through the run's own serving predictor (`recipe.predictor`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlbench.errors import UserError
from dlbench.monitor.features import input_features, output_features
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
