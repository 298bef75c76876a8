"""Classification and regression: loss, evaluation and predictions."""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from dlbench.data.loaders import eval_batches
from dlbench.errors import UserError
from dlbench.metrics import classification_metrics, regression_metrics
from dlbench.tasks.errors import binary_outcome, input_name, text_of, worst


@torch.no_grad()
def collect_outputs(model, split, batch_size, device, num_workers=0, autocast=None):
    """Run the model over a split in order; return (outputs, targets) on the device, concatenated."""
    was_training = model.training
    model.eval()
    outs, ys = [], []
    for xb, yb in eval_batches(split, batch_size, device, num_workers):
        with autocast() if autocast else contextlib.nullcontext():
            outs.append(model(xb).float())
        ys.append(yb)
    model.train(was_training)
    return torch.cat(outs), (torch.cat(ys) if ys and ys[0] is not None else None)


@torch.no_grad()
def forward_batched(model, x: np.ndarray, device, batch_size: int = 1024) -> torch.Tensor:
    """Model inputs (numpy, already preprocessed) -> outputs for all of them, batched, on the device."""
    model.eval()
    outs = [model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(device))
            for i in range(0, len(x), batch_size)]
    if not outs:
        raise UserError("no samples to predict")
    return torch.cat(outs)


class _Predicts:
    def predict(self, model, x: np.ndarray, device, beam=None) -> dict[str, np.ndarray]:
        """Model inputs -> predictions by name (`predictions` of the model's outputs)."""
        return self.predictions(forward_batched(model, x, device))


class ClassificationTask(_Predicts):
    name = "classification"
    metrics = {"loss": "min", "accuracy": "max", "macro_f1": "max"}
    """What `evaluate` returns (as numbers), each with its direction."""
    metric = "val.accuracy"
    """The metric that selects the best checkpoint when early stopping names none."""

    def __init__(self, spec, label_smoothing: float = 0.0):
        self.spec, self.label_smoothing = spec, label_smoothing

    def loss(self, model, x, y):
        return F.cross_entropy(model(x), y, label_smoothing=self.label_smoothing)

    def evaluate(self, model, split, batch_size, device, detailed=False, num_workers=0, autocast=None) -> dict:
        logits, y = collect_outputs(model, split, batch_size, device, num_workers, autocast)
        loss = F.cross_entropy(logits, y).item()  # plain cross-entropy, comparable across smoothing settings
        pred = logits.argmax(1).cpu().numpy()
        out = {"loss": loss, **classification_metrics(y.cpu().numpy(), pred, self.spec.num_classes,
                                                      self.spec.class_names, detailed)}
        return out

    def predictions(self, outputs: torch.Tensor) -> dict[str, np.ndarray]:
        probs = outputs.float().softmax(-1).cpu().numpy()
        return {"probabilities": probs, "label": probs.argmax(1)}

    def errors(self, model, split, n: int, device, batch_size: int = 256) -> list[dict]:
        """The n worst misclassified samples: lowest probability given to the true class first (ties: the
        more confident wrong prediction first). Each: rank, input, [text], true, predicted, p_true, confidence
        (probability of the predicted class) and, for two classes, outcome FP or FN (label 1 positive)."""
        logits, y = collect_outputs(model, split, batch_size, device)
        probs = logits.float().softmax(-1).cpu().numpy().astype(np.float64)
        y = y.cpu().numpy().astype(np.int64)
        pred = probs.argmax(1)
        rows = np.arange(len(y))
        p_true, conf = probs[rows, y], probs[rows, pred]
        wrong = np.flatnonzero(pred != y)
        wrong = wrong[np.argsort(-conf[wrong], kind="stable")]  # secondary key first: a stable sort keeps it
        names = self.spec.class_names or [str(i) for i in range(self.spec.num_classes)]
        out = []
        for rank, i in enumerate(worst(p_true, wrong, n), 1):
            name = input_name(split, i)
            rec = {"rank": rank, "input": name}
            text = text_of(split, i, name)
            if text is not None:
                rec["text"] = text
            rec.update(true=names[y[i]], predicted=names[pred[i]], p_true=float(p_true[i]), confidence=float(conf[i]))
            if self.spec.num_classes == 2:
                rec["outcome"] = binary_outcome(int(y[i]), int(pred[i]))
            out.append(rec)
        return out


class RegressionTask(_Predicts):
    name = "regression"
    metrics = {"loss": "min", "mse": "min", "rmse": "min", "mae": "min", "r2": "max"}
    metric = "val.loss"

    def __init__(self, spec, label_smoothing: float = 0.0):
        self.spec = spec
        # the model predicts standardized targets; metrics and predictions are in the target's units
        self.mean = float(spec.extras.get("target_mean", 0.0))
        self.std = float(spec.extras.get("target_std", 1.0))

    def _scaled(self, y):
        return ((y - self.mean) / self.std).reshape(len(y), -1)

    def loss(self, model, x, y):
        return F.mse_loss(model(x), self._scaled(y))

    def evaluate(self, model, split, batch_size, device, detailed=False, num_workers=0, autocast=None) -> dict:
        out, y = collect_outputs(model, split, batch_size, device, num_workers, autocast)
        loss = F.mse_loss(out, self._scaled(y)).item()
        pred = (out * self.std + self.mean).cpu().numpy().reshape(y.shape)
        return {"loss": loss, **regression_metrics(y.cpu().numpy(), pred)}

    def predictions(self, outputs: torch.Tensor) -> dict[str, np.ndarray]:
        pred = (outputs.float() * self.std + self.mean).cpu().numpy()
        return {"prediction": pred[:, 0] if pred.shape[1] == 1 else pred}

    def errors(self, model, split, n: int, device, batch_size: int = 256) -> list[dict]:
        """The n samples with the largest absolute errors, in the target's units. Each: rank, input, [text],
        true, predicted, error (predicted - true) and abs_error; with several outputs true, predicted and
        error are lists and abs_error is their mean absolute error."""
        out, y = collect_outputs(model, split, batch_size, device)
        y = y.cpu().numpy().astype(np.float64).reshape(len(y), -1)
        pred = (out.double() * self.std + self.mean).cpu().numpy().reshape(y.shape)
        err = pred - y
        abs_err = np.abs(err).mean(1)
        one = y.shape[1] == 1
        records = []
        for rank, i in enumerate(worst(abs_err, np.arange(len(y)), n, descending=True), 1):
            name = input_name(split, i)
            rec = {"rank": rank, "input": name}
            text = text_of(split, i, name)
            if text is not None:
                rec["text"] = text
            value = (lambda a: float(a[0])) if one else (lambda a: [float(v) for v in a])
            rec.update(true=value(y[i]), predicted=value(pred[i]), error=value(err[i]), abs_error=float(abs_err[i]))
            records.append(rec)
        return records
