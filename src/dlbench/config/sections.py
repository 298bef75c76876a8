"""The sections every family shares: optim, train (with early stopping), as typed defaults."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dlbench.config.base import Section


class OptimConfig(Section):
    name: Literal["sgd", "adam", "adamw"] = "adamw"
    """Optimizer. Weight decay is never applied to biases or normalization weights."""
    lr: float = Field(1e-3, gt=0)
    """Peak learning rate (after warmup)."""
    weight_decay: float = Field(0.0, ge=0)
    """Penalty on the weights (AdamW: decoupled; SGD, Adam: L2 in the gradient); raise it (0.01-0.1) against
    overfitting."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """SGD only."""
    nesterov: bool = False
    """SGD only; needs momentum > 0."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam/AdamW only."""
    eps: float = Field(1e-8, gt=0)
    """Adam/AdamW: the term added to the denominator for numerical stability; rarely changed."""
    schedule: Literal["constant", "step", "cosine", "onecycle", "inverse_sqrt", "linear"] = "constant"
    """Learning-rate shape over training; warmup (if any) is applied first."""
    warmup_steps: int = Field(0, ge=0)
    """Steps of linear warmup from 0 to lr before the schedule; helps Transformers and large batches."""
    step_size: int = Field(1000, gt=0)
    """`step` schedule: multiply the lr by `gamma` every `step_size` steps."""
    gamma: float = Field(0.1, gt=0, le=1)
    """`step` schedule: the factor applied every `step_size` steps."""
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    """cosine/linear/onecycle: the final lr as a fraction of `lr`."""
    onecycle_pct_start: float = Field(0.3, gt=0, lt=1)
    """onecycle: the fraction of training spent raising the lr to its peak."""
    grad_clip: float | None = Field(None, gt=0)
    """Clip the global gradient norm to this value; null disables."""

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self):
        if self.name == "sgd" and self.nesterov and self.momentum == 0:
            raise ValueError("nesterov: true needs momentum > 0")
        return self


class EarlyStopping(Section):
    metric: str | None = None
    """A validation metric as logged in metrics.jsonl (`val.accuracy`, `val.loss`, `val.r2`, ...); null: the
    family's selection metric for the data's task (accuracy for classifiers, loss for regressors, BLEU ...)."""
    patience: int = Field(5, ge=1)
    """Number of evaluations without improvement before stopping."""
    min_delta: float = Field(0.0, ge=0)
    """Smallest change of the metric that counts as an improvement."""
    mode: Literal["auto", "min", "max"] = "auto"
    """auto: the direction the family declares for the metric (losses and errors down, accuracy, R², BLEU up)."""


class TrainConfig(Section):
    steps: int | None = Field(None, gt=0)
    """Training length in optimizer steps. Give `steps` or `epochs`; an override of one replaces the other.
    Neither: epochs by the amount of training data (60 under 1,000 samples, 30 under 10,000, 10 under
    100,000, else 3), and early stopping ends the run sooner once validation stops improving."""
    epochs: float | None = Field(None, gt=0)
    """Training length in passes over the training split (fractions allowed); give `steps` or `epochs`."""
    batch_size: int = Field(64, gt=0)
    """The global batch: samples per optimizer step over all ranks; with W processes each takes batch_size/W
    (shards differ by at most one sample when W does not divide it)."""
    eval_every: int | None = Field(None, gt=0)
    """Evaluate on the validation split every N steps (and at the end); null: about 20 evaluations per run
    (at most every 500 steps), so early stopping and keep-best see enough of the run."""
    log_every: int = Field(50, gt=0)
    """Log the training loss every N steps: the only places the loop waits for the device."""
    checkpoint_every: int = Field(500, gt=0)
    """Save a checkpoint (what --resume continues from) every N steps and at the end."""
    keep_checkpoints: int = Field(2, ge=1)
    """How many of the newest checkpoints stay on disk."""
    seed: int = 0
    """Seeds model init, dropout and batch order (the data split has its own `data.seed`)."""
    device: str = "auto"
    """auto (cuda if available, else cpu), cpu, cuda, cuda:N or mps."""
    precision: Literal["fp32", "bf16"] = "fp32"
    """bf16 runs forward/backward under torch.autocast; weights and optimizer stay fp32."""
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    """Classification: move this much of the target probability to the other classes (0.1 is common); a mild
    regularizer."""
    early_stopping: EarlyStopping | None = EarlyStopping()
    """On by default: stop after `patience` evaluations without improvement (and keep the best weights);
    `early_stopping: null` trains for the whole length."""
    keep_best: bool = True
    """Final weights are those of the best validation evaluation (by early_stopping.metric or the task's metric)."""
    num_workers: int = Field(2, ge=0)
    """DataLoader worker processes, used only for data that does not fit in memory."""
    eval_train_samples: int = Field(1000, ge=0)
    """Size of the fixed training subset evaluated beside validation, for the over/underfitting diagnosis."""
    threads: int | None = Field(None, gt=0)
    """torch intra-op threads on CPU; null keeps torch's default."""
    lr_scaling: Literal["none", "linear", "sqrt"] = "none"
    """Scale optim.lr with the global batch (`batch_size`, summed over all ranks) relative to
    `reference_batch_size`: linear (SGD, Goyal et al.) or sqrt (Adam-family). result.json records the effective lr."""
    reference_batch_size: int | None = Field(None, gt=0)
    """The global batch size optim.lr was tuned at; required when lr_scaling is not none."""
    sync_batchnorm: bool = False
    """Distributed runs on GPUs: batch-norm statistics over the global batch (SyncBatchNorm) instead of per rank."""
    init_from: str | None = None
    """Fine-tune: start from the weights of this finished run (`dlbench train CONFIG --init-from RUN`). The model
    section must describe the same architecture and the data the same inputs and classes; the report then shows
    both models on the old and the new test data."""
    init_preprocessing: Literal["keep", "refit"] = "keep"
    """With init_from: `keep` replays the old run's preprocessing (standardization statistics, categories,
    target scaling) on the new data, so the weights see inputs in the units they learned; `refit` fits it anew
    on the new training split (the inputs must still come out the same shape)."""

    @model_validator(mode="after")
    def _one_length(self):
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give train.steps or train.epochs, not both")
        if self.lr_scaling != "none" and self.reference_batch_size is None:
            raise ValueError("train.lr_scaling needs train.reference_batch_size (the batch size optim.lr was tuned at)")
        return self


class TrackingConfig(Section):
    """Experiment tracking, off by default (`-o tracking.mlflow=true`)."""
    tensorboard: bool = False
    """Write TensorBoard event files to RUN/tensorboard/ (`tensorboard --logdir runs/`)."""
    mlflow: bool = False
    """Log parameters, metrics per step, the run directory and the model (safetensors + model.json) to MLflow."""
    mlflow_uri: str = "sqlite:///mlruns/mlflow.db"
    """MLflow tracking URI; the default keeps the database and artifacts in a local mlruns/ folder."""
    mlflow_experiment: str | None = None
    """MLflow experiment name; null: the run config's name."""
