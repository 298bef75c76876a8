"""GAN: generators for images, 1-D signals and tables, trained by their own adversarial loop.

Owns its config (`model.GANConfig`: architecture, adversarial training, the reference classifier),
its loop (`loop.py`), its measurement (`measure.py`: classifier Fréchet distance, conditional accuracy,
diversity), sampling (`sampling.py`), the `generate` command (`generate.py`) and its server predictor.
"""
from __future__ import annotations

from dlbench.errors import UserError
from dlbench.recipes.base import Recipe, Suggestion
from dlbench.training.step import TrainStep
from dlbench.recipes.gan.model import GANConfig, build_gan

METRICS = {"classifier_fd": "min", "data_fd": "min", "conditional_accuracy": "max", "fd_improvement": "max",
           "distinct_classes": "max", "diversity_ratio": "max", "column_mean_gap": "min"}


class GANRecipe(Recipe):
    name = "gan"
    config = GANConfig
    description = "generative adversarial network: more images, signals or table rows like the data"
    exports = ("safetensors",)
    generative = True
    logs_lr = False  # two optimizers with their own rates (model.g_lr, model.d_lr)
    title = "GAN"

    def suggest(self, profile, goal):
        if goal != "generate" or profile.kind in ("text", "translation", "corpus"):
            return None
        classes = f", conditioned on the {profile.classes} classes" if profile.classes else ""
        return Suggestion(self.name, 0, self.title, [
            f"you asked to generate more {profile.kind} data like this: a GAN learns to sample from the data's "
            f"distribution{classes}"])

    def starter(self, profile, suggestion, sizes, steps):
        model = {"name": self.name, "width": min(128, sizes["width"]),
                 "conditional": bool(profile.classes and profile.classes <= 100),
                 "d_dropout": 0.3 if sizes["n_train"] < 1000 else 0.0}
        return model, None, {}  # its two optimizers are set in the model section

    def fits(self, spec):
        if "vocab_size" in spec.extras:
            return "it generates numeric samples (images, signals, table rows), not token sequences"
        return super().fits(spec)

    def build(self, mc, spec):
        return build_gan(mc, spec)

    def check_config(self, cfg) -> None:
        from dlbench.recipes.gan.loop import check_gan_config

        check_gan_config(cfg)

    def run_task(self, spec) -> str:
        return "generation"

    def metrics(self, task: str) -> dict[str, str]:
        return METRICS

    def selection_metric(self, task: str) -> str:
        return "val.classifier_fd" if task == "classification" else "val.data_fd"

    def train(self, cfg, run, *, resume=False, quiet=True, observer=None, dist=None, evaluate_test=True) -> dict:
        from dlbench.recipes.gan.loop import train_gan

        return train_gan(self, cfg, run, resume=resume, quiet=quiet, observer=observer, dist=dist,
                         evaluate_test=evaluate_test)

    def train_step(self, cfg, model, task, device, steps: int) -> TrainStep:
        from dlbench.recipes.gan.loop import gan_step

        return gan_step(cfg, model, device)

    def optimizer(self, cfg) -> dict:
        """Adam for G and D; the generator's learning rate is the one benchmark logs name."""
        m = cfg.model
        return {"name": "adam", "lr": m.g_lr, "beta_1": m.betas[0], "beta_2": m.betas[1]}

    def load(self, run_dir, cfg, info, spec, weights, device):
        from dlbench.codecs import codec_for
        from dlbench.recipes.gan.sampling import Generator
        from dlbench.run.loaded import LoadedRun

        gan = self.build(cfg.model, spec)
        try:
            gan.load_state_dict(weights)
        except RuntimeError as e:
            raise UserError(f"{run_dir}/model.json does not describe its weights ({str(e).splitlines()[0]})",
                            "the run directory is damaged") from None
        gan.to(device).eval()
        return LoadedRun(run_dir, cfg, info, spec, gan, Generator(gan, spec, run_dir),
                         codec_for(info["preprocessing"]), device, self)

    def evaluate(self, loaded, bundle, split: str, errors: int = 0) -> dict:
        from dlbench.recipes.gan.measure import evaluate_run

        self.check_errors(loaded, errors)
        return evaluate_run(loaded, bundle, split)

    def check_errors(self, loaded, errors: int) -> None:
        if errors:
            raise UserError(f"{loaded.path} is a GAN run: a generator makes samples, it has no mistakes to list",
                            "drop --errors; evaluate reports the GAN's Fréchet distances")

    def check_predicts(self, loaded) -> None:
        raise UserError(f"{loaded.path} is a GAN run: it generates samples rather than predicting",
                        "use `dlbench generate RUN --n N --output FILE`")

    def predict(self, loaded, x, beam=None):
        self.check_predicts(loaded)

    def predictor(self, loaded, name: str, version: str):
        from dlbench.recipes.gan.predictor import GeneratorPredictor

        return GeneratorPredictor(loaded, name, version)

    def generate(self, loaded, **options) -> dict:
        from dlbench.recipes.gan.generate import generate

        extra = [k for k in options if k not in ("n", "label", "seed", "output")]
        if extra:  # the language-model options of `dlbench generate`
            raise UserError(f"--{extra[0].replace('_', '-')} applies to language models; a GAN makes samples",
                            "use --n, --label, --seed and --output")
        if options.get("output") is None:
            raise UserError("a GAN writes its samples to a file: give --output (.png, .npz or .csv)")
        return generate(loaded, **options)

    def model_info(self, cfg, bundle, model) -> dict:
        from dlbench.recipes.gan.measure import CLASSIFIER_DIR

        return {**super().model_info(cfg, bundle, model),
                "reference": CLASSIFIER_DIR if bundle.spec.task == "classification" else None}
