"""The adversarial training loop: a second readable loop (the supervised one is training/loop.py).

One step = `model.d_steps` discriminator updates, each on a fresh real batch and fresh noise, then one
generator update; `train.steps` counts generator steps. G and D have their own Adam optimizers and
learning rates (beta1 = 0.5 by default). An optional EMA of G's weights is updated after every G step
and is what samples come from.

Same guarantees as the supervised loop, with the same helpers (training/checkpoint.py): host syncs only
at log/eval boundaries; atomic safetensors + JSON checkpoints holding G, D, EMA, both optimizers, every
RNG state and the data position, so a resumed run continues bit-identically on CPU; evaluation draws
its noise from its own generator and never touches the training RNG.

Evaluations (at step 0 for the untrained baseline, every `train.eval_every` steps and at the end) measure
the generator against the validation split (tasks/generation.py) and write a sample grid to
RUN/samples/step-N.png. The loop stops with `Diverged` when a loss becomes NaN/inf or when D separates
held-out real from generated samples perfectly for `model.divergence_patience` evaluations in a row;
checkpoints are never written from a diverged state, and those from before a streak are kept.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dlbench.config.sections import EarlyStopping, OptimConfig
from dlbench.data.loaders import TrainBatches
from dlbench.data.registry import build_data
from dlbench.errors import UserError
from dlbench.progress import TrainProgress
from dlbench.recipes.gan.measure import diagnose_gan, measure, split_tensors, summarize, train_reference
from dlbench.recipes.gan.model import build_gan
from dlbench.recipes.gan.plots import save_samples_png
from dlbench.training import checkpoint as ckpt
from dlbench.training.device import pick_device, synchronize
from dlbench.training.keep_best import KeepBest
from dlbench.training.loop import Diverged, Interrupted, eval_cadence, stop_signals, total_steps
from dlbench.training.seeding import seed_everything
from dlbench.training.step import TrainStep
from dlbench.training.supervised import check_fits, run_record

log = logging.getLogger(__name__)
GAN_EPOCHS_FACTOR = 4
"""Without train.steps or train.epochs a GAN trains 4x the default epochs of a classifier on the same data."""
D_WINS = 0.99
"""D 'wins completely' when it is right about at least this fraction of held-out real and of generated samples."""


def d_loss_fn(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss from logits [N] on real and generated samples."""
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # -log sigmoid(real) - log(1 - sigmoid(fake))


def g_loss_fn(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss from D's logits [N] on generated samples."""
    if kind == "hinge":
        return -fake.mean()
    return F.softplus(-fake).mean()  # non-saturating: -log sigmoid(D(G(z))), strong gradients while D wins


def adversarial_step(gan, opt_d, opt_g, batches, mc, device) -> tuple[torch.Tensor, torch.Tensor]:
    """`mc.d_steps` D updates, then one G update. Returns the (last D, G) losses, still on the device."""
    G, D = gan.generator, gan.discriminator
    y = None
    for _ in range(mc.d_steps):
        x, y = next(batches)
        y = y if gan.conditional else None
        z = torch.randn(len(x), gan.latent_dim, device=device)
        with torch.no_grad():
            fake = G(z, y)                                       # [N, *shape], no graph back into G
        d_loss = d_loss_fn(mc.loss, D(x, y), D(fake, y))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    # G step: labels of the last real batch (the data's class mix); D is frozen so no D gradients are computed
    z = torch.randn(len(x), gan.latent_dim, device=device)
    D.requires_grad_(False)
    g_loss = g_loss_fn(mc.loss, D(G(z, y), y))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    if gan.ema is not None:
        gan.update_ema(mc.ema)
    return d_loss.detach(), g_loss.detach()


def gan_step(cfg, gan, device) -> TrainStep:
    """The loop's step with fresh Adam optimizers for G and D: `run(batches)` takes `model.d_steps` real
    batches and returns the (D, G) losses stacked, on the device."""
    mc = cfg.model
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=mc.g_lr, betas=mc.betas)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=mc.d_lr, betas=mc.betas)

    def run(batches, loss_weight: float = 1.0) -> torch.Tensor:
        return torch.stack(adversarial_step(gan, opt_d, opt_g, batches, mc, device))

    return TrainStep(run, (opt_g, opt_d), None, batches_per_step=mc.d_steps)


def check_gan_config(cfg) -> None:
    """The parts of the shared schema a GAN run does not use must be left at their defaults."""
    tc, problems = cfg.train, []
    if cfg.optim != OptimConfig():
        problems.append("optim.* does not apply to GAN runs (set model.g_lr, model.d_lr and model.betas)")
    if tc.precision != "fp32":
        problems.append("train.precision: GAN training runs in fp32 only")
    if tc.early_stopping not in (None, EarlyStopping()):  # the default is on for supervised runs; a GAN ignores it
        problems.append("train.early_stopping does not apply to GAN runs (train.keep_best keeps the lowest-FD generator)")
    if tc.label_smoothing:
        problems.append("train.label_smoothing does not apply to GAN runs")
    if problems:
        raise UserError(f"{len(problems)} problem(s) in the GAN config: " + "; ".join(problems))


@dataclass
class GanFit:
    steps: int
    best: dict | None
    state: dict
    train_seconds: float
    eval_seconds: float
    samples_per_second: float
    evals: list[dict] = field(default_factory=list)


def _save(run, step, gan, opt_g, opt_d, state, keep):
    d_t, d_meta = ckpt.optimizer_state(opt_d)
    extra = {"optim_d." + k[len("optim."):]: v for k, v in d_t.items()}
    ckpt.save_checkpoint(run.checkpoints, step, gan, opt_g, None, {**state, "optim_d": d_meta}, keep, extra)


def _restore(run, gan, opt_g, opt_d) -> dict | None:
    found = ckpt.load_latest_checkpoint(run.checkpoints)
    if found is None:
        return None
    tensors, meta = found
    state = ckpt.restore_checkpoint(tensors, meta, gan, opt_g, None)
    d_tensors = {"optim." + k[len("optim_d."):]: v for k, v in tensors.items() if k.startswith("optim_d.")}
    ckpt.load_optimizer_state(opt_d, d_tensors, state.pop("optim_d"))
    return state


def fit_gan(cfg, gan, bundle, ref, run, device, *, resume=False, progress=None, observer=None) -> GanFit:
    """Train `gan` on bundle.train; measure it on bundle.val; write metrics, sample grids and checkpoints to `run`."""
    mc, tc = cfg.model, cfg.train
    steps = total_steps(tc, len(bundle.train), tc.batch_size)
    if tc.steps is None:  # an epoch is counted in real batches, d_steps of them per step
        if tc.epochs is None:  # the default length: a generator needs several times a classifier's passes
            steps *= GAN_EPOCHS_FACTOR
        steps = max(1, math.ceil(steps / mc.d_steps))
    eval_every = eval_cadence(tc, steps)
    step_fn = gan_step(cfg, gan, device)
    opt_g, opt_d = step_fn.optimizer
    state = {"step": 0, "position": None, "d_updates": 0, "best": None, "best_step": None, "best_sha256": None,
             "d_wins": 0, "d_wins_since": None, "good_step": None, "untrained_fd": None,
             "samples": 0, "train_seconds": 0.0, "eval_seconds": 0.0}
    key = f"val.{ref.fd_key}"
    keeper = KeepBest(run, key, "min", keep=tc.keep_best)
    if resume:
        restored = _restore(run, gan, opt_g, opt_d)
        if restored is not None:
            state = restored
            keeper.restore(state)
            log.info("resumed from step %d", state["step"])
        run.truncate_metrics(state["step"] if restored is not None else -1)  # no checkpoint: start the log afresh
    batches = TrainBatches(bundle.train, tc.batch_size, tc.seed, device, num_workers=tc.num_workers,
                           position=state["position"])
    evals = [r for r in run.read_metrics() if r.get("kind") == "eval"] if resume else []
    floor = bundle.train  # FD between two real samples: the floor a generator can reach
    names = bundle.spec.class_names

    def evaluate(step: int) -> dict:
        t0 = time.perf_counter()
        if observer and step:
            observer.eval_start(step)
        m, fake = measure(gan, ref, bundle.val, mc.eval_samples, floor=floor, spec=bundle.spec,
                          preprocessing=bundle.preprocessing)
        grid, labels = _grid_samples(gan)
        real = bundle.val.x.numpy() if grid.dim() == 2 and bundle.val.in_memory else None
        save_samples_png(run.path / "samples" / f"step-{step}.png", grid.cpu().numpy(),
                         None if labels is None else labels.numpy(), names, real,
                         bundle.spec.extras.get("feature_names"), f"step {step}  {ref.fd_key} {m[ref.fd_key]:.4g}")
        state["eval_seconds"] += time.perf_counter() - t0
        return {f"val.{k}": v for k, v in m.items() if isinstance(v, (int, float))}

    def last_good() -> str:
        return f"checkpoints/step-{state['good_step']}.json" if state["good_step"] is not None else "none yet"

    gan.train()
    if progress:
        progress.start(steps, state["step"])
    if observer:
        observer.run_start()
    sums = torch.zeros(2, device=device)  # running (D loss, G loss) since the last log, summed on the device
    count, stop_reason = 0, None
    with stop_signals() as flag:
        t_start = time.perf_counter() - state["train_seconds"]
        if state["step"] == 0:  # the untrained generator: the baseline the improvement ratio is measured from
            metrics = evaluate(0)
            state["untrained_fd"] = metrics[key]
            rec = {"step": 0, "kind": "eval", **metrics}
            evals.append(rec)
            run.log(rec)
        t_window, samples_window = time.perf_counter(), 0
        while state["step"] < steps:
            sums += step_fn.run(batches)
            count += 1
            state["step"] += 1
            state["d_updates"] += mc.d_steps
            step = state["step"]
            n_real = tc.batch_size * mc.d_steps
            samples_window += n_real
            state["samples"] += n_real

            final = step == steps
            if step % tc.log_every == 0 or final or step % tc.checkpoint_every == 0 or flag["sig"] is not None:
                d_mean, g_mean = (sums / count).tolist()
                if not (math.isfinite(d_mean) and math.isfinite(g_mean)):
                    raise Diverged(f"GAN losses became non-finite by step {step} (D {d_mean}, G {g_mean}); "
                                   f"lower model.d_lr / model.g_lr or use model.spectral_norm: true. "
                                   f"Last good checkpoint: {last_good()}")
                synchronize(device)
                now = time.perf_counter()
                rate = samples_window / max(now - t_window, 1e-9)
                t_window, samples_window = now, 0
                rec = {"step": step, "kind": "train", "epoch": state["samples"] / len(bundle.train),
                       "train.d_loss": d_mean, "train.g_loss": g_mean, "samples_per_s": rate}
                run.log(rec)
                if progress:
                    progress.update(step, {"d_loss": d_mean, "g_loss": g_mean})
                sums.zero_()
                count = 0

            if step % eval_every == 0 or final:
                metrics = evaluate(step)
                rec = {"step": step, "kind": "eval", **metrics}
                evals.append(rec)
                run.log(rec)
                value = metrics[key]
                if progress:
                    progress.update(step, {key: value})
                if not math.isfinite(value):
                    raise Diverged(f"the generator produces non-finite samples at step {step}; lower the learning "
                                   f"rates. Last good checkpoint: {last_good()}")
                keeper.offer(state, step, metrics, gan)
                won = metrics["val.d_accuracy_real"] >= D_WINS and metrics["val.d_accuracy_fake"] >= D_WINS
                state["d_wins"] = state["d_wins"] + 1 if won else 0
                state["d_wins_since"] = (state["d_wins_since"] or step) if won else None
                if state["d_wins"] >= mc.divergence_patience:
                    raise Diverged(
                        f"the discriminator has won completely for {state['d_wins']} evaluations in a row (since "
                        f"step {state['d_wins_since']} it tells held-out real from generated samples apart with "
                        f">= {D_WINS:.0%} accuracy): the generator gets no useful gradient and the run is stopped. "
                        "Lower model.d_lr, use model.loss: hinge with model.spectral_norm: true, or add "
                        f"model.d_dropout. Last checkpoint before that: {last_good()}")
                if observer and observer.eval_stop(step, metrics):
                    stop_reason = "target"

            if step % tc.checkpoint_every == 0 or final or stop_reason or flag["sig"] is not None:
                state["position"] = batches.position
                state["train_seconds"] = time.perf_counter() - t_start
                # while D is winning, keep every checkpoint: the one from before the streak must survive
                keep = tc.keep_checkpoints if state["d_wins"] == 0 else 10 ** 6
                if state["d_wins"] == 0:
                    state["good_step"] = step
                _save(run, step, gan, opt_g, opt_d, state, keep)
                t_window = time.perf_counter()  # samples/s measures training steps, not checkpoints
            if flag["sig"] is not None:
                if progress:
                    progress.stop()
                raise Interrupted(f"interrupted at step {step}; checkpoint saved")
            if stop_reason:
                break
            if step % eval_every == 0:
                t_window = time.perf_counter()
    if progress:
        progress.stop()
    synchronize(device)
    train_seconds = time.perf_counter() - t_start
    keeper.apply(gan)
    return GanFit(steps=state["step"], best={"step": state["best_step"], "metric": key, "value": state["best"]},
                  state=state, train_seconds=train_seconds, eval_seconds=state["eval_seconds"],
                  samples_per_second=state["samples"] / max(train_seconds - state["eval_seconds"], 1e-9), evals=evals)


def _grid_samples(gan, per_class: int = 8, n: int = 64):
    """Fixed noise for the sample grids (the same z at every evaluation, so grids show progress);
    conditional: `per_class` samples of each class (one row each) when there are at most 12 classes."""
    labels = None
    if gan.conditional:
        k = gan.num_classes
        labels = torch.arange(k).repeat_interleave(per_class) if k <= 12 else torch.arange(n) % k
    count = len(labels) if labels is not None else n
    return gan.sample(count, labels, generator=torch.Generator().manual_seed(1234)), labels


def train_gan(recipe, cfg, run, *, resume: bool = False, quiet: bool = True, observer=None, dist=None,
              evaluate_test: bool = True) -> dict:
    """The GAN recipe's `train`: reference classifier, adversarial fit, final measurement on val and
    (once, unless evaluate_test is False) test, model.safetensors + model.json + result.json. Returns the result."""
    t0 = time.perf_counter()
    if dist is not None:
        raise UserError("GAN training runs in a single process", "drop --nproc-per-node / --nnodes")
    check_gan_config(cfg)
    mc, tc = cfg.model, cfg.train
    if tc.threads:
        torch.set_num_threads(tc.threads)
    device = pick_device(tc.device)
    bundle = build_data(cfg.data)
    check_fits(recipe, bundle.spec)
    build_gan(mc, bundle.spec)  # a config that cannot work fails now, not after the classifier has trained
    run.create()  # only now, and before RUN/classifier: a run that cannot start leaves nothing behind
    ref, ref_seconds = train_reference(cfg, run.path, bundle.spec, device, resume, quiet)
    t_init = time.perf_counter()
    seed_everything(tc.seed)  # G and D initialized as `untrained_like` rebuilds them
    gan = build_gan(mc, bundle.spec).to(device)
    train_x, _ = split_tensors(bundle.train if bundle.train.in_memory else bundle.train.subset(2000))
    gan.set_data_range(float(train_x.min()), float(train_x.max()))
    init_seconds = time.perf_counter() - t_init
    progress = None if quiet else TrainProgress(cfg.name or "gan")
    fitted = fit_gan(cfg, gan, bundle, ref, run, device, resume=resume, progress=progress, observer=observer)

    key, floor = ref.fd_key, bundle.train
    seed_everything(tc.seed)
    untrained = build_gan(mc, bundle.spec).to(device)
    untrained.set_data_range(float(train_x.min()), float(train_x.max()))
    final = {"test": None}
    splits = [("val", bundle.val)] + ([("test", bundle.open_test("final test after training"))] if evaluate_test else [])
    for name, split in splits:
        m, _ = measure(gan, ref, split, mc.eval_samples, floor=floor, spec=bundle.spec,
                       preprocessing=bundle.preprocessing)
        base, _ = measure(untrained, ref, split, mc.eval_samples)
        final[name] = summarize(m, base[key], key)
    grid, labels = _grid_samples(gan)
    save_samples_png(run.path / "samples.png", grid.cpu().numpy(), None if labels is None else labels.numpy(),
                     bundle.spec.class_names, bundle.val.x.numpy() if grid.dim() == 2 and bundle.val.in_memory else None,
                     bundle.spec.extras.get("feature_names"), f"{cfg.name}: {key} {final['val'][key]:.4g} (val)")
    if final["val"].get("warning"):
        log.warning("%s", final["val"]["warning"])
    result = {
        "name": cfg.name, "task": recipe.run_task(bundle.spec), "model": recipe.name,
        "val": final["val"], "test": final["test"], "best": fitted.best,
        "diagnosis": diagnose_gan(fitted.evals, final["val"], key),
        "reference": {"path": "classifier" if ref.has_classifier else None, "accuracy": ref.accuracy,
                      "feature_space": f"classifier last hidden layer ({mc.reference.features} units)"
                      if ref.has_classifier else "standardized data features"},
        "training": {"steps": fitted.steps, "g_updates": fitted.steps, "d_updates": fitted.state["d_updates"],
                     "d_steps": mc.d_steps, "loss": mc.loss, "optimizer": "adam", "g_lr": mc.g_lr, "d_lr": mc.d_lr,
                     "epochs": fitted.state["samples"] / len(bundle.train), "stopped_early": False,
                     "global_batch_size": tc.batch_size, "samples_per_second": fitted.samples_per_second,
                     "world_size": 1},
    }
    record = run_record(cfg, bundle, device, t0, init_seconds, fitted.train_seconds, fitted.eval_seconds)
    result.update({k: record[k] for k in ("timing", "data", "device", "versions")})
    result["timing"]["classifier_seconds"] = ref_seconds
    run.save_model(gan.state_dict(), recipe.model_info(cfg, bundle, gan))
    run.write_result(result)
    return result
