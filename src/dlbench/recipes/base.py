"""What a model family is: a recipe owns everything that differs between families.

A recipe names its config section, builds the model whose head the data decides (`spec.task`),
names the tasks it accepts and the metrics of each (with their direction), trains with its regime
(the supervised loop here; the GAN recipe brings its adversarial loop), loads a finished run for
inference, and says what it exports and which report sections it draws. Everything outside
`dlbench.recipes` asks the recipe through `dlbench.recipes.registry`; nothing switches on a family's name.

The supervised defaults below serve every family trained by `training.loop.fit`; a family overrides
only what differs (`build` always).
"""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass, field
from typing import ClassVar

from dlbench.errors import UserError
from dlbench.recipes.predictor import RunPredictor
from dlbench.tasks import TASKS
from dlbench.training.step import TrainStep, supervised_step


@dataclass
class Suggestion:
    """A family's answer to `dlbench recommend`: how well it suits the inspected data and why."""
    family: str
    rank: int
    """Lower is recommended first; a family offers itself as a fallback with a higher rank."""
    title: str
    """What a person calls it here: "1-D CNN", "Transformer (encoder-decoder)"."""
    reasons: list[str] = field(default_factory=list)
    variant: str = ""
    """Which starter `starter` builds (e.g. "1d" convolutions, a "seq2seq" head)."""


class Recipe:
    name: ClassVar[str]
    """model.name in configs; the family is named by this and nothing else."""
    config: ClassVar[type]
    """The model config section (a `config.base.Section` with `name: Literal[<name>]`)."""
    description: ClassVar[str] = ""
    title: ClassVar[str] = ""
    """The family as a person names it (recommend's output)."""
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    """The data tasks (DataSpec.task) this family accepts; the task picks the head."""
    exports: ClassVar[tuple[str, ...]] = ("onnx", "safetensors")
    generative: ClassVar[bool] = False
    """Makes new samples (`dlbench generate`) rather than predicting from inputs."""
    logs_lr: ClassVar[bool] = True
    """Whether metrics.jsonl carries the one learning rate the report's schedule plot draws."""

    # --- building -------------------------------------------------------------------------------
    def fits(self, spec) -> str | None:
        """Why this family cannot take this data, or None when it can."""
        if spec.task not in self.tasks:
            return f"it takes {', '.join(self.tasks)} data"
        return None

    def build(self, mc, spec):
        """The model for `mc` (this family's config section) on data described by `spec`."""
        raise NotImplementedError

    def build_task(self, cfg, spec):
        cls = TASKS[spec.task]
        if hasattr(cls, "from_config"):  # tasks with options beyond label smoothing read them from the config
            return cls.from_config(spec, cfg)
        return cls(spec, label_smoothing=cfg.train.label_smoothing)

    def check_config(self, cfg) -> None:
        """Problems a config of this family has regardless of data (raise UserError)."""
        es = cfg.train.early_stopping
        if es is not None and es.metric:
            self.direction(es.metric)  # a metric this family logs, before any data is read

    def run_task(self, spec) -> str:
        """The task a run of this family reports (result.json "task")."""
        return spec.task

    # --- metrics ----------------------------------------------------------------------------------
    def metrics(self, task: str) -> dict[str, str]:
        """Numeric metrics of a task -> "min" or "max"."""
        return TASKS[task].metrics

    def selection_metric(self, task: str) -> str:
        """The validation metric that picks the best weights when early stopping names none."""
        return TASKS[task].metric

    def direction(self, metric: str, task: str | None = None) -> str:
        """"min" or "max" for a metric as logged (`val.accuracy`, `train.loss`, `accuracy`)."""
        bare = metric.split(".", 1)[1] if metric.startswith(("val.", "train.")) else metric
        tables = [self.metrics(task)] if task else [self.metrics(t) for t in self.tasks]
        for table in tables:
            if bare in table:
                return table[bare]
        known = sorted({f"val.{m}" for t in tables for m in t})
        raise UserError(f"'{metric}' is not a metric of the {self.name} family",
                        f"choose one of {', '.join(known)}")

    # --- recommending (dlbench recommend) ----------------------------------------------------------
    def suggest(self, profile, goal: str) -> Suggestion | None:
        """This family for inspected data (`recommend.inspect.Profile`) and a goal (predict or generate),
        or None when it does not suit it."""
        return None

    def starter(self, profile, suggestion: Suggestion, sizes: dict, steps: int) -> tuple[dict, dict | None, dict]:
        """A starter config for the data: (model section, optim changes or None when the family has no
        optim section, data changes). `sizes`: width, dropout, weight decay for the amount of data."""
        raise NotImplementedError

    # --- training ---------------------------------------------------------------------------------
    def train(self, cfg, run, *, resume: bool = False, quiet: bool = True, observer=None, dist=None,
              evaluate_test: bool = True) -> dict:
        """Train, validate, test once; write model.safetensors, model.json and result.json. Returns the result."""
        from dlbench.training.supervised import train_supervised

        return train_supervised(self, cfg, run, resume=resume, quiet=quiet, observer=observer, dist=dist,
                                evaluate_test=evaluate_test)

    def train_step(self, cfg, model, task, device, steps: int) -> TrainStep:
        """The loop's step for a prepared model (see `prepare`), with a fresh optimizer and scheduler."""
        return supervised_step(cfg, model, task, device, steps)

    def optimizer(self, cfg) -> dict:
        """The optimizer a run of this config uses, for benchmark logs: name, lr, weight_decay, warmup_steps."""
        o = cfg.optim
        return {"name": o.name, "lr": o.lr, "weight_decay": o.weight_decay, "warmup_steps": o.warmup_steps}

    # --- finished runs ----------------------------------------------------------------------------
    def load(self, run_dir: Path, cfg, info: dict, spec, weights: dict, device):
        """A finished run ready for inference (`runs.load.LoadedRun`)."""
        from dlbench.codecs import codec_for
        from dlbench.run.loaded import LoadedRun

        model = self.build(cfg.model, spec)
        try:
            model.load_state_dict(weights)
        except RuntimeError as e:
            raise UserError(f"{run_dir}/model.safetensors: weights do not fit the architecture in model.json "
                            f"({str(e).splitlines()[0]})", "the run directory is damaged") from None
        model.to(device).eval()
        return LoadedRun(Path(run_dir), cfg, info, spec, model, self.build_task(cfg, spec),
                         codec_for(info["preprocessing"]), device, self)

    def evaluate(self, loaded, bundle, split: str, errors: int = 0) -> dict:
        """Metrics of the run's model on a split; with `errors` > 0 also the worst `errors` mistakes
        (`errors`: records from the task's `errors`, `errors_ranked_by`: how they are ranked)."""
        from dlbench.tasks.errors import RANKED_BY

        self.check_errors(loaded, errors)
        data = {"train": bundle.train, "val": bundle.val}.get(split) or bundle.open_test("dlbench evaluate")
        out = loaded.task.evaluate(loaded.model, data, 256, loaded.device, detailed=True)
        if errors:
            out["errors"] = loaded.task.errors(loaded.model, data, errors, loaded.device)
            out["errors_ranked_by"] = RANKED_BY.get(loaded.task.name, "")
        return out

    def check_errors(self, loaded, errors: int) -> None:
        """Raise UserError when this family's runs cannot list mistakes (before any data is built)."""
        if errors < 0:
            raise UserError(f"--errors {errors}: give how many of the worst mistakes to list (0 for none)")

    def check_predicts(self, loaded) -> None:
        """Raise UserError when runs of this family do not predict from inputs (before any input is read)."""

    def predict(self, loaded, x, beam: int | None = None) -> dict:
        """Model inputs (decoded by the run's codec) -> predictions by name."""
        if beam is not None and not hasattr(loaded.task, "translate"):
            raise UserError("--beam applies to translation (seq2seq) models only")
        return loaded.task.predict(loaded.model, x, loaded.device, beam=beam)

    def predictor(self, loaded, name: str, version: str):
        """The serving predictor of a loaded run (`serve.predictor.Predictor`)."""
        return RunPredictor(loaded, name, version)

    def generate(self, loaded, **options) -> dict:
        """`dlbench generate`: new samples from a generative run."""
        raise UserError(f"{loaded.path} is a {self.name} run, which does not generate",
                        "generate works on runs of generative families; use predict")

    def model_info(self, cfg, bundle, model) -> dict:
        """model.json: what rebuilding and using the model needs (the sha256 is added when it is written)."""
        return {"format": "dlbench-model/1", "family": self.name, "config": cfg.model_dump(mode="json"),
                "spec": bundle.spec.to_json(), "preprocessing": bundle.preprocessing,
                "parameters": sum(p.numel() for p in model.parameters())}
