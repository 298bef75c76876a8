"""Measuring a generator: classifier Fréchet distance, conditional accuracy, diversity, column statistics.

The reference is a classifier dlbench trains on the GAN's training split (a dlbench run of its own in
RUN/classifier/). Its last hidden layer is the feature space of the Fréchet distance ("classifier FD",
not FID: FID means Inception-v3 features of natural images); its predictions give the conditional
accuracy (generated samples labelled as the class they were asked for) and the classes covered.
Data without classes (regression tables) has no classifier: the distance is then measured on the
standardized features themselves ("data FD").
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dlbench.errors import UserError
from dlbench.metrics.frechet import frechet_distance_of, mean_pairwise_distance
from dlbench.recipes.cnn import CNNRecipe
from dlbench.recipes.mlp import MLPRecipe

log = logging.getLogger(__name__)
CLASSIFIER_DIR = "classifier"
CLASSIFIER_RECIPES = {"mlp": MLPRecipe(), "cnn": CNNRecipe()}
"""The families `reference_config` builds the reference classifier from."""
COLLAPSE_DIVERSITY = 0.5
"""Generated samples with less than half the real mean pairwise distance are reported as collapsed."""


# --- the reference classifier ---------------------------------------------------------------------

def reference_config(cfg, spec) -> dict:
    """The supervised dlbench config of the reference classifier for a GAN config (same data and split):
    a small CNN for signals and images, an MLP for flat features; the last hidden layer has `features` units."""
    rc = cfg.model.reference
    if len(spec.input_shape) == 1:
        model = {"name": "mlp", "hidden": [128, rc.features], "dropout": 0.1}
    else:
        model = {"name": "cnn", "dropout": 0.1, "head": "flatten", "head_hidden": [rc.features],
                 "stages": [{"channels": 32, "kernel": 3}, {"channels": 32, "kernel": 3, "stride": 2},
                            {"channels": 64, "kernel": 3, "stride": 2}]}
    t = cfg.train
    return {"name": f"{cfg.name or 'gan'}-classifier", "data": cfg.data.model_dump(mode="json"), "model": model,
            "optim": {"name": "adamw", "lr": rc.lr, "weight_decay": 0.01, "schedule": "cosine"},
            "train": {"steps": rc.steps, "batch_size": rc.batch_size, "eval_every": max(1, rc.steps // 2),
                      "log_every": min(50, rc.steps), "checkpoint_every": rc.steps, "seed": t.seed,
                      "device": t.device, "threads": t.threads, "eval_train_samples": t.eval_train_samples}}


@dataclass
class Reference:
    """Features [N, F] and predicted classes [N] of samples; `model` None = the data's own features."""
    model: torch.nn.Module | None
    device: torch.device
    accuracy: dict | None = None

    @property
    def has_classifier(self) -> bool:
        return self.model is not None

    @property
    def fd_key(self) -> str:
        return "classifier_fd" if self.has_classifier else "data_fd"

    @torch.no_grad()
    def run(self, x: torch.Tensor, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray | None]:
        if self.model is None:
            return x.flatten(1).double().cpu().numpy(), None
        last = [m for m in self.model.modules() if isinstance(m, torch.nn.Linear)][-1]
        feats: list[torch.Tensor] = []
        hook = last.register_forward_pre_hook(lambda _m, inp: feats.append(inp[0].flatten(1)))
        try:
            self.model.eval()
            logits = torch.cat([self.model(x[i:i + batch_size].to(self.device)) for i in range(0, len(x), batch_size)])
        finally:
            hook.remove()
        return torch.cat(feats).double().cpu().numpy(), logits.argmax(1).cpu().numpy()


def load_reference(run_dir: Path, spec, device, config_cls) -> Reference:
    """The reference of a GAN run: its classifier run (verified weights), or the data's features.

    config_cls: the run config's class, to read the classifier's config.yaml with."""
    if spec.task != "classification":
        return Reference(None, device)
    from dlbench.data.bundle import DataSpec
    from dlbench.run.rundir import load_model, read_json

    path = Path(run_dir) / CLASSIFIER_DIR
    if not (path / "model.json").is_file():
        raise UserError(f"{run_dir}: the reference classifier ({CLASSIFIER_DIR}/) is missing or unfinished",
                        "the run directory is incomplete; resume the run with --resume or retrain it")
    info, weights = load_model(path)  # description and weights verified, the weights read once
    try:
        cfg = config_cls.model_validate(info["config"])
        recipe = CLASSIFIER_RECIPES[cfg.model.name]
        model = recipe.build(cfg.model, DataSpec.from_json(info["spec"]))
        model.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise UserError(f"{path}/model.json does not describe a reference classifier ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200] if str(e) else ''})",
                        "the run directory is damaged; retrain the run") from None
    acc = None
    if (path / "result.json").is_file():
        r = read_json(path / "result.json", "classifier result.json")
        acc = {"val": (r.get("val") or {}).get("accuracy"), "test": (r.get("test") or {}).get("accuracy")}
    return Reference(model.to(device).eval(), device, acc)


def train_reference(cfg, run_dir: Path, spec, device, resume: bool, quiet: bool) -> tuple[Reference, float]:
    """Train (or, on resume, finish or reuse) the reference classifier in RUN/classifier/; return it and its seconds."""
    import time

    from dlbench.config.load import dump_config
    from dlbench.run.rundir import RunDir
    from dlbench.training.supervised import train_supervised

    if spec.task != "classification":
        return Reference(None, device), 0.0
    t0, path = time.perf_counter(), Path(run_dir) / CLASSIFIER_DIR
    if not (path / "model.json").is_file():
        partial = (path / "config.yaml").is_file()
        if partial and not resume:
            raise UserError(f"{path} exists", "use --resume to continue the run")
        ref_cfg = type(cfg).model_validate(reference_config(cfg, spec))
        run = RunDir(path)
        if not partial:
            path.mkdir(parents=True, exist_ok=True)
            run.write_config(dump_config(ref_cfg))
        train_supervised(CLASSIFIER_RECIPES[ref_cfg.model.name], ref_cfg, run, resume=partial, quiet=quiet)
    return load_reference(run_dir, spec, device, type(cfg)), time.perf_counter() - t0


# --- measuring ------------------------------------------------------------------------------------

def split_tensors(split) -> tuple[torch.Tensor, torch.Tensor | None]:
    """All of a split on the CPU (also for splits read lazily from files)."""
    if split.in_memory:
        return split.x, split.y
    from dlbench.data.loaders import eval_batches

    xs, ys = zip(*eval_batches(split, 512, torch.device("cpu")))
    return torch.cat(xs), torch.cat(ys)


def sample_labels(real_y: torch.Tensor | None, n: int, seed: int) -> torch.Tensor | None:
    """Labels to condition on, drawn with the real split's class frequencies (so the FD compares like with like)."""
    if real_y is None:
        return None
    idx = np.random.default_rng(seed).integers(len(real_y), size=n)
    return real_y[torch.from_numpy(idx)]


@torch.no_grad()
def measure(gan, ref: Reference, split, n: int, seed: int = 0, floor=None, spec=None,
            preprocessing: dict | None = None) -> tuple[dict, torch.Tensor]:
    """Compare n generated samples with a real split. Returns (metrics, generated samples).

    floor: a real split (the training split) whose FD to `split` is the distance two real samples have.
    """
    real_x, real_y = split_tensors(split)
    labels = sample_labels(real_y, n, seed) if gan.conditional else None
    fake = gan.sample(n, labels, generator=torch.Generator().manual_seed(seed))
    key = ref.fd_key
    if not torch.isfinite(fake).all():
        return {key: float("nan")}, fake
    f_real, p_real = ref.run(real_x)
    f_fake, p_fake = ref.run(fake)
    out: dict = {key: frechet_distance_of(f_real, f_fake)}
    if floor is not None:
        fx, _ = split_tensors(floor.subset(len(real_x)))  # as many real samples as the split has
        out[f"{key}_real"] = frechet_distance_of(f_real, ref.run(fx)[0])
    if p_fake is not None:
        if gan.conditional:
            out["conditional_accuracy"] = float(np.mean(p_fake == labels.numpy()))
        out["distinct_classes"] = int(len(np.unique(p_fake)))
        out["real_distinct_classes"] = int(len(np.unique(real_y.numpy() if real_y is not None else p_real)))
    out["pairwise_distance"] = mean_pairwise_distance(fake.cpu().numpy(), seed=seed)
    out["real_pairwise_distance"] = mean_pairwise_distance(real_x.numpy(), seed=seed)
    out["diversity_ratio"] = out["pairwise_distance"] / max(out["real_pairwise_distance"], 1e-12)
    out.update(discriminator_accuracy(gan, real_x, real_y, fake, labels))
    warning = collapse_warning(out)
    if warning:
        out["warning"] = warning
    if real_x.dim() == 2:
        out.update(column_stats(real_x.numpy(), fake.cpu().numpy(), spec, preprocessing))
    return out, fake


@torch.no_grad()
def discriminator_accuracy(gan, real_x, real_y, fake, labels) -> dict:
    """How well D tells held-out real (logit > 0) from generated (logit < 0) samples; ~1.0 on both: D has won."""
    d = gan.discriminator
    was = d.training
    d.eval()
    dev = next(d.parameters()).device
    real_logit = torch.cat([d(real_x[i:i + 512].to(dev), None if real_y is None or not gan.conditional
                              else real_y[i:i + 512].to(dev)) for i in range(0, len(real_x), 512)])
    fake_logit = torch.cat([d(fake[i:i + 512], None if labels is None else labels[i:i + 512].to(dev))
                            for i in range(0, len(fake), 512)])
    d.train(was)
    return {"d_accuracy_real": float((real_logit > 0).float().mean()),
            "d_accuracy_fake": float((fake_logit < 0).float().mean())}


def collapse_warning(m: dict) -> str | None:
    """A plain-language warning when the generated set looks collapsed (too few classes, too little spread)."""
    problems = []
    real_k, k = m.get("real_distinct_classes"), m.get("distinct_classes")
    if real_k and k is not None and k < max(2, real_k / 2):
        problems.append(f"the classifier finds only {k} of {real_k} classes among the generated samples")
    if m["diversity_ratio"] < COLLAPSE_DIVERSITY:
        problems.append(f"generated samples are {1 / max(m['diversity_ratio'], 1e-12):.1f}x closer to each other "
                        "than real ones")
    if not problems:
        return None
    return ("mode collapse: " + " and ".join(problems) + "; the generator produces a few kinds of sample only "
            "(try model.loss: hinge with model.spectral_norm: true, model.ema, or a lower model.d_lr)")


def affine_to_data_units(preprocessing: dict | None, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(scale [d], shift [d]) with data = model_input * scale + shift per flat feature (identity if unknown)."""
    if not preprocessing:
        return np.ones(d), np.zeros(d)
    from dlbench.codecs import codec_for

    return codec_for(preprocessing).affine(d)


def column_stats(real: np.ndarray, fake: np.ndarray, spec, preprocessing) -> dict:
    """Per-column mean/std of generated vs real rows (in the data's units), and two summaries in std units."""
    d = real.shape[1]
    names = (spec.extras.get("feature_names") if spec else None) or [f"x{i}" for i in range(d)]
    scale, shift = affine_to_data_units(preprocessing, d)
    rm, rs, gm, gs = real.mean(0), real.std(0), fake.mean(0), fake.std(0)
    stats = {str(names[i]): {"real_mean": float(rm[i] * scale[i] + shift[i]), "generated_mean": float(gm[i] * scale[i] + shift[i]),
                             "real_std": float(rs[i] * scale[i]), "generated_std": float(gs[i] * scale[i])}
             for i in range(d)}
    rs_safe = np.where(rs > 1e-12, rs, 1.0)
    return {"column_stats": stats,
            "column_mean_gap": float(np.mean(np.abs(gm - rm) / rs_safe)),
            "column_std_ratio": float(np.mean(gs / rs_safe))}


def summarize(m: dict, untrained_fd: float | None, key: str) -> dict:
    """Add the untrained generator's FD and the improvement ratio (untrained FD / FD)."""
    if untrained_fd is not None:
        m[f"{key}_untrained"] = untrained_fd
        m["fd_improvement"] = untrained_fd / max(m[key], 1e-12)
    return m


def diagnose_gan(evals: list[dict], final: dict, key: str) -> dict:
    """A plain-language verdict from the validation FD history (step 0 = the untrained generator)."""
    what = "classifier Fréchet distance" if key == "classifier_fd" else "Fréchet distance"
    # a distance that is not a number (NaN/inf, null in metrics.jsonl) ends the analysis: never a "good fit"
    for e in evals:
        v = e.get(f"val.{key}", 0.0)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return {"verdict": "diverged", "evidence": {"step": e.get("step")},
                    "reason": f"the {what} is {v if v is not None else 'not a number'} at step {e.get('step')}: the "
                              "generator's samples stopped being finite numbers; lower model.g_lr / model.d_lr or use "
                              "model.spectral_norm: true"}
    v = final.get(key)
    if key in final and (v is None or (isinstance(v, float) and not math.isfinite(v))):
        return {"verdict": "invalid", "evidence": {"final_fd": v},
                "reason": f"the saved generator's {what} is {v if v is not None else 'not a number'}: its samples are "
                          "not finite numbers, so its metrics mean nothing (retrain, or resume from an earlier checkpoint)"}
    fds = [(e["step"], e[f"val.{key}"]) for e in evals if isinstance(e.get(f"val.{key}"), (int, float))]
    if final.get("warning"):
        return {"verdict": "mode collapse", "reason": final["warning"], "evidence": {}}
    if len(fds) < 2:
        return {"verdict": "unknown", "reason": "fewer than two evaluations; evaluate more often (train.eval_every)",
                "evidence": {}}
    untrained, (best_step, best), (last_step, last) = fds[0][1], min(fds, key=lambda t: t[1]), fds[-1]
    ratio = untrained / max(best, 1e-12)
    ev = {"untrained_fd": untrained, "best_fd": best, "best_step": best_step, "final_fd": last,
          "improvement": ratio, "real_floor": final.get(f"{key}_real")}
    if ratio < 2:
        return {"verdict": "not learning", "evidence": ev,
                "reason": f"the {what} fell only {ratio:.1f}x from the untrained generator ({untrained:.4g} -> "
                          f"{best:.4g}); train longer or revisit model.g_lr / model.d_lr"}
    if last > 1.5 * best and last_step != best_step:
        return {"verdict": "unstable", "evidence": ev,
                "reason": f"the {what} rose from its best {best:.4g} (step {best_step}) to {last:.4g}; train.keep_best "
                          "keeps the best generator; lower the learning rates or set model.ema"}
    floor = f"; two real samples are {ev['real_floor']:.4g} apart" if ev["real_floor"] is not None else ""
    if ev["real_floor"] is not None and best <= 1.2 * ev["real_floor"]:
        return {"verdict": "good fit", "evidence": ev,
                "reason": f"the {what} fell {ratio:.1f}x from the untrained generator ({untrained:.4g} -> {best:.4g}), "
                          f"as close to the held-out data as the training data is{floor}"}
    falling = best_step == last_step and len(fds) >= 3 and fds[-2][1] > 1.05 * best
    far = ev["real_floor"] is not None and best > 3 * ev["real_floor"]
    if falling:
        return {"verdict": "undertrained", "evidence": ev,
                "reason": f"the {what} was still falling at the end ({fds[-2][1]:.4g} -> {best:.4g}){floor}; train longer"}
    if far:
        return {"verdict": "underfitting", "evidence": ev,
                "reason": f"the {what} plateaued at {best:.4g}, {best / ev['real_floor']:.0f}x the distance between two "
                          "real samples; train longer, use a larger model (model.width) or revisit the learning rates"}
    return {"verdict": "good fit", "evidence": ev,
            "reason": f"the {what} fell {ratio:.1f}x from the untrained generator ({untrained:.4g} -> {best:.4g}){floor}"}


# --- finished runs --------------------------------------------------------------------------------

def untrained_like(loaded) -> torch.nn.Module:
    """The run's generator as it was before training: same seed, same build (its data range copied)."""
    from dlbench.training.seeding import seed_everything

    seed_everything(loaded.config.train.seed)
    g = loaded.recipe.build(loaded.config.model, loaded.spec)
    out = loaded.model.generator.output
    g.set_data_range(float(out.lo), float(out.hi))
    return g.to(loaded.device).eval()


def evaluate_run(loaded, bundle, split: str = "test") -> dict:
    """`dlbench evaluate` for a GAN run: the generator against a real split, with the untrained baseline."""
    ref = load_reference(loaded.path, loaded.spec, loaded.device, type(loaded.config))
    data = {"train": bundle.train, "val": bundle.val}.get(split) or bundle.open_test("dlbench evaluate")
    mc = loaded.config.model
    floor = bundle.train if split != "train" else None
    m, _ = measure(loaded.model, ref, data, mc.eval_samples, floor=floor, spec=loaded.spec,
                   preprocessing=loaded.preprocessing)
    base, _ = measure(untrained_like(loaded), ref, data, mc.eval_samples)
    m = summarize(m, base[ref.fd_key], ref.fd_key)
    if ref.accuracy:
        m["classifier_accuracy"] = ref.accuracy.get(split if split != "train" else "val")
    if m.get("warning"):
        log.warning("%s", m["warning"])
    return m
