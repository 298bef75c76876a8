"""Generative adversarial networks: DCGAN-style conv G/D for [C, T] signals and [C, H, W] images,
an MLP G/D for tables, class-conditional variants (label embedding in G, projection discriminator,
Miyato & Koyama 2018) and spectral normalization (Miyato et al. 2018) of D.

`GANConfig` also holds what is specific to adversarial training (loss, D:G step ratio, the two
learning rates, EMA of G) and to measuring the generator (the reference classifier); the loop that
reads them is `dlbench.recipes.gan.loop`. The `optim` section does not apply to GAN runs.
"""
from __future__ import annotations

import copy
import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from dlbench.config.base import Section
from dlbench.errors import UserError


class ReferenceConfig(Section):
    """The classifier dlbench trains on the training split; the Fréchet distance and the conditional
    accuracy are measured with it. It is a dlbench run of its own, in RUN/classifier/."""
    steps: int = Field(600, gt=0)
    """Its training steps."""
    lr: float = Field(3e-3, gt=0)
    """Its learning rate."""
    batch_size: int = Field(64, gt=0)
    """Its batch size."""
    features: int = Field(64, gt=0)
    """Width of its last hidden layer: the feature space of the Fréchet distance."""


class GANConfig(Section):
    name: Literal["gan"] = "gan"
    """The family: a generative adversarial network that learns to generate samples like the training data (images,
    signals or table rows)."""
    arch: Literal["auto", "conv", "mlp"] = "auto"
    """auto: conv for [C, T] signals and [C, H, W] images, mlp for flat features (tables)."""
    latent_dim: int = Field(64, gt=0)
    """Size of the noise vector z ~ N(0, I) the generator maps to a sample."""
    conditional: bool | None = None
    """Generate a requested class: a label embedding in G, a projection discriminator. Needs class labels;
    null: conditional when the data has class labels (at most MAX_CONDITIONAL_CLASSES of them)."""
    width: int = Field(64, gt=0)
    """conv: channels of G's last and D's first stage, doubled at each halving of resolution; mlp: hidden width."""
    depth: int = Field(2, ge=1)
    """mlp: hidden layers in G and in D."""
    embed_dim: int = Field(32, gt=0)
    """Size of G's label embedding (conditional only)."""
    spectral_norm: bool = False
    """Spectral normalization of every D layer: a 1-Lipschitz D, the usual partner of the hinge loss."""
    g_norm: Literal["batch", "none"] = "batch"
    """Normalization in G (DCGAN uses batch norm; D never has any)."""
    output: Literal["auto", "tanh", "linear"] = "auto"
    """G's last activation. tanh: squashed into the training data's [min, max] (auto for images); linear otherwise."""
    d_dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout in D, against a D that memorizes a small training set."""
    # --- adversarial training (dlbench.recipes.gan.loop) ---
    loss: Literal["non_saturating", "hinge"] = "non_saturating"
    """non_saturating: D logistic loss, G maximizes log D(G(z)). hinge: D max(0, 1 -+ D(x)), G -D(G(z))."""
    d_steps: int = Field(1, ge=1)
    """Discriminator steps per generator step (each on a fresh real batch). train.steps counts generator steps."""
    g_lr: float = Field(2e-4, gt=0)
    """Learning rate of the generator's Adam (optim.* does not apply to GANs)."""
    d_lr: float = Field(2e-4, gt=0)
    """Learning rate of the discriminator's Adam."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas of both optimizers (DCGAN: beta1 = 0.5)."""
    ema: float | None = Field(0.999, gt=0, lt=1)
    """Decay of an exponential moving average of G's weights; samples come from the average, which is
    steadier than the last G (Karras et al. 2018). null: no average."""
    # --- measuring the generator ---
    eval_samples: int = Field(1000, ge=10)
    """Generated samples per evaluation (compared with the whole held-out split)."""
    divergence_patience: int = Field(5, ge=1)
    """Stop when D separates held-out real from generated samples perfectly for this many evaluations in a row."""
    reference: ReferenceConfig = ReferenceConfig()
    """The classifier that measures the generator (Fréchet distance, conditional accuracy)."""


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return spectral_norm(module) if on else module


def upsamplings(spatial: tuple[int, ...], max_k: int = 4) -> int:
    """How many 2x upsamplings build `spatial` from a base of at least 3 per side (8 -> 4x4 base, 1 step;
    28 -> 7x7, 2; 40 -> 5, 3). Odd sizes get none: G then projects z straight to full resolution."""
    k = 0
    while k < max_k and all(s % 2 ** (k + 1) == 0 and s // 2 ** (k + 1) >= 3 for s in spatial):
        k += 1
    return k


class Output(nn.Module):
    """G's last activation. Buffers lo/hi (set from the training data by the loop, saved with the weights)
    give tanh its range, so images come out in the data's own units."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.register_buffer("lo", torch.tensor(-1.0))
        self.register_buffer("hi", torch.tensor(1.0))

    def forward(self, x):
        if self.kind == "linear":
            return x
        return self.lo + (self.hi - self.lo) * (torch.tanh(x) + 1) / 2


class ConvGenerator(nn.Module):
    """z [N, L] (+ embedded label) -> Linear -> [N, C0, *base] -> k x (ConvTranspose 4/2/1, norm, ReLU) -> conv -> x."""

    def __init__(self, shape: tuple[int, ...], cfg: GANConfig, num_classes: int | None, out_kind: str):
        super().__init__()
        dims, k = len(shape) - 1, upsamplings(shape[1:])
        self.base = tuple(s // 2 ** k for s in shape[1:])
        chans = [cfg.width * 2 ** (k - i) for i in range(k + 1)]  # halve channels as resolution doubles
        Norm = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d) if cfg.g_norm == "batch" else None
        ConvT, Conv = (nn.ConvTranspose1d, nn.Conv1d) if dims == 1 else (nn.ConvTranspose2d, nn.Conv2d)
        self.embed = nn.Embedding(num_classes, cfg.embed_dim) if num_classes else None
        d_in = cfg.latent_dim + (cfg.embed_dim if num_classes else 0)
        self.project = nn.Linear(d_in, chans[0] * math.prod(self.base))
        self.norm0 = Norm(chans[0]) if Norm else nn.Identity()
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [ConvT(a, b, 4, 2, 1, bias=Norm is None), Norm(b) if Norm else nn.Identity(), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.to_data = Conv(chans[-1], shape[0], 3, 1, 1)
        self.output = Output(out_kind)

    def forward(self, z, y=None):
        h = z if self.embed is None else torch.cat([z, self.embed(y)], 1)
        h = self.project(h).view(len(z), -1, *self.base)      # [N, C0, *base]
        h = self.body(torch.relu(self.norm0(h)))                # [N, width, *spatial]
        return self.output(self.to_data(h))                     # [N, C, *spatial]


class ConvDiscriminator(nn.Module):
    """x [N, C, *spatial] -> conv 3/1/1 -> k x (conv 4/2/1, LeakyReLU 0.2) -> flatten h -> w.h (+ embed(y).h)."""

    def __init__(self, shape: tuple[int, ...], cfg: GANConfig, num_classes: int | None):
        super().__init__()
        dims, k = len(shape) - 1, upsamplings(shape[1:])
        Conv = nn.Conv1d if dims == 1 else nn.Conv2d
        chans = [cfg.width * 2 ** i for i in range(k + 1)]
        layers: list[nn.Module] = [_sn(Conv(shape[0], chans[0], 3, 1, 1), cfg.spectral_norm), nn.LeakyReLU(0.2)]
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [_sn(Conv(a, b, 4, 2, 1), cfg.spectral_norm), nn.LeakyReLU(0.2)]
            if cfg.d_dropout:
                layers.append(nn.Dropout(cfg.d_dropout))
        self.features = nn.Sequential(*layers, nn.Flatten())
        n_feat = chans[-1] * math.prod(s // 2 ** k for s in shape[1:])
        self.out = _sn(nn.Linear(n_feat, 1), cfg.spectral_norm)
        self.embed = _sn(nn.Embedding(num_classes, n_feat), cfg.spectral_norm) if num_classes else None

    def forward(self, x, y=None):
        h = self.features(x)                                    # [N, F]
        logit = self.out(h).squeeze(1)                          # [N]
        if self.embed is not None:  # projection: a class-specific direction in feature space
            logit = logit + (self.embed(y) * h).sum(1)
        return logit


class MLPGenerator(nn.Module):
    """z [N, L] (+ embedded label) -> depth x (Linear, norm, ReLU) -> Linear -> x [N, *shape]."""

    def __init__(self, shape: tuple[int, ...], cfg: GANConfig, num_classes: int | None, out_kind: str):
        super().__init__()
        self.shape = tuple(shape)
        self.embed = nn.Embedding(num_classes, cfg.embed_dim) if num_classes else None
        d, layers = cfg.latent_dim + (cfg.embed_dim if num_classes else 0), []
        for _ in range(cfg.depth):
            layers += [nn.Linear(d, cfg.width), nn.BatchNorm1d(cfg.width) if cfg.g_norm == "batch" else nn.Identity(),
                       nn.ReLU()]
            d = cfg.width
        self.body = nn.Sequential(*layers, nn.Linear(d, math.prod(shape)))
        self.output = Output(out_kind)

    def forward(self, z, y=None):
        h = z if self.embed is None else torch.cat([z, self.embed(y)], 1)
        return self.output(self.body(h)).view(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    """x [N, *shape] -> flatten -> depth x (Linear, LeakyReLU 0.2) -> h -> w.h (+ embed(y).h)."""

    def __init__(self, shape: tuple[int, ...], cfg: GANConfig, num_classes: int | None):
        super().__init__()
        d, layers = math.prod(shape), [nn.Flatten()]
        for _ in range(cfg.depth):
            layers += [_sn(nn.Linear(d, cfg.width), cfg.spectral_norm), nn.LeakyReLU(0.2)]
            if cfg.d_dropout:
                layers.append(nn.Dropout(cfg.d_dropout))
            d = cfg.width
        self.features = nn.Sequential(*layers)
        self.out = _sn(nn.Linear(d, 1), cfg.spectral_norm)
        self.embed = _sn(nn.Embedding(num_classes, d), cfg.spectral_norm) if num_classes else None

    def forward(self, x, y=None):
        h = self.features(x)
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit


class GAN(nn.Module):
    """Holds G, D and (optionally) the EMA copy of G, so one state_dict carries the whole model.
    `forward(z, y)` and `sample()` use the EMA generator when there is one."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 num_classes: int | None, ema: bool):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.ema = copy.deepcopy(generator).requires_grad_(False) if ema else None

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def sampler(self) -> nn.Module:
        return self.ema if self.ema is not None else self.generator

    def forward(self, z, y=None):
        return self.sampler(z, y)

    def set_data_range(self, lo: float, hi: float) -> None:
        for g in (self.generator, self.ema):
            if g is not None:
                g.output.lo.fill_(lo)
                g.output.hi.fill_(hi)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * G; buffers (batch-norm statistics) are copied."""
        for pe, p in zip(self.ema.parameters(), self.generator.parameters()):
            pe.lerp_(p, 1 - decay)
        for be, b in zip(self.ema.buffers(), self.generator.buffers()):
            be.copy_(b)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               batch_size: int = 1024) -> torch.Tensor:
        """n samples [n, *shape] in eval mode; z comes from `generator` (CPU) so sampling leaves the global RNG alone."""
        g = self.sampler
        was = g.training
        g.eval()
        dev = next(g.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(dev)
        y = labels.to(dev) if labels is not None else None
        out = torch.cat([g(z[i:i + batch_size], None if y is None else y[i:i + batch_size])
                         for i in range(0, n, batch_size)])
        g.train(was)
        return out


MAX_CONDITIONAL_CLASSES = 100


def is_conditional(cfg: GANConfig, spec) -> bool:
    """model.conditional, or (null) whether the data has class labels to condition on."""
    if cfg.conditional is not None:
        return cfg.conditional
    return spec.task == "classification" and bool(spec.num_classes) and spec.num_classes <= MAX_CONDITIONAL_CLASSES


def build_gan(cfg: GANConfig, spec) -> GAN:
    shape = tuple(spec.input_shape)
    conditional = is_conditional(cfg, spec)
    if conditional and (spec.task != "classification" or not spec.num_classes):
        raise UserError(f"model.conditional: true needs class labels, but this data is a {spec.task} set without classes",
                        "set model.conditional: false, or use a dataset with class labels")
    arch = cfg.arch if cfg.arch != "auto" else ("conv" if len(shape) in (2, 3) else "mlp")
    if arch == "conv" and len(shape) not in (2, 3):
        raise UserError(f"model.arch: conv needs [C, T] signals or [C, H, W] images, but the data gives {list(shape)}",
                        "use model.arch: mlp (or auto) for flat features")
    out_kind = cfg.output if cfg.output != "auto" else ("tanh" if len(shape) == 3 else "linear")
    k = spec.num_classes if conditional else None
    if arch == "conv":
        g, d = ConvGenerator(shape, cfg, k, out_kind), ConvDiscriminator(shape, cfg, k)
    else:
        g, d = MLPGenerator(shape, cfg, k, out_kind), MLPDiscriminator(shape, cfg, k)
    return GAN(g, d, cfg.latent_dim, k, cfg.ema is not None)
