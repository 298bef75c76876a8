"""Where the system under test runs its samples. A back end takes sample indices and returns the
predictor's outputs for them (numpy, keyed by output name):

    InProcess   (here) the served predictor itself (`predictors.load_predictor`), called with raw
                inputs, so preprocessing and post-processing are timed as the server runs them. On a
                GPU, run directories take a fast path: the predictor's own preprocessing, then a
                pinned host buffer copied asynchronously to the device and one forward pass.
    Http        (http_backend.py) a running `dlbench serve` over its REST API.
"""
from __future__ import annotations

import numpy as np


class InProcess:
    kind = "in-process"

    def __init__(self, predictor, samples):
        self.predictor, self.samples = predictor, samples
        run = getattr(predictor, "run", None)
        self.device = str(getattr(run, "device", "cpu"))
        # The fast path needs a run directory's predictor over float inputs (not token ids).
        direct_ok = (run is not None and hasattr(run, "codec") and hasattr(run.task, "predictions")
                     and run.codec.input_dtype == np.float32)
        self._fast = direct_ok and run.device.type == "cuda"
        self._pinned = None

    def describe(self) -> str:
        import torch

        extra = " (pinned inputs, async copy)" if self._fast else f", {torch.get_num_threads()} torch threads"
        return f"in-process on {self.device}{extra}"

    def prepare(self, idx) -> None:
        """Nothing to stage: the raw samples are already in memory."""

    def infer(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        inputs = self.samples.request(idx)
        if self._fast:
            return self._infer_direct(inputs)
        return self.predictor.predict(inputs, {})

    def _infer_direct(self, inputs: dict) -> dict[str, np.ndarray]:
        """predictor.predict's work without its per-call copies: preprocess, stage, one forward pass."""
        import torch

        run = self.predictor.run
        x = torch.from_numpy(np.ascontiguousarray(run.codec.decode(inputs), dtype=np.float32))
        if self._pinned is None or self._pinned.shape[0] < len(x) or self._pinned.shape[1:] != x.shape[1:]:
            buf = torch.empty((max(len(x), 256), *x.shape[1:]), dtype=torch.float32)
            # page-locked memory lets the host-to-device copy run asynchronously (DMA)
            self._pinned = buf.pin_memory() if run.device.type == "cuda" else buf
        buf = self._pinned[:len(x)]
        buf.copy_(x)
        with torch.inference_mode():
            out = run.model(buf.to(run.device, non_blocking=True))
            preds = run.task.predictions(out)  # .cpu() inside synchronises, so the buffer is free again
        if "label" in preds:
            names = run.spec.class_names or [str(i) for i in range(run.spec.num_classes)]
            return {"probabilities": preds["probabilities"].astype(np.float32),
                    "label": np.array([names[i] for i in preds["label"]], dtype=object)}
        return {"prediction": preds["prediction"].astype(np.float32)}

    def close(self) -> None:
        pass


class RequestFailed(Exception):
    """One request of a run failed (HTTP error, timeout, refused): counted, and the run is INVALID."""
