"""GAN generators and discriminators: shapes for images, signals and tables; conditioning; spectral norm; EMA."""
import pytest
import torch

from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from dlbench.recipes.gan.model import GANConfig, upsamplings

IMAGE = DataSpec("classification", (1, 8, 8), 10, [str(i) for i in range(10)])
RGB = DataSpec("classification", (3, 28, 20), 3, ["a", "b", "c"])
SIGNAL = DataSpec("classification", (1, 40), 10, [str(i) for i in range(10)])
TABLE = DataSpec("regression", (7,))


SPECS = {"digits": IMAGE, "rgb": RGB, "mnist1d": SIGNAL, "table": TABLE}
SHAPE_CASES = [pytest.param(spec, cond, id=f"{name}-{'cond' if cond else 'plain'}")
               for name, spec in SPECS.items() for cond in (False, True)
               if spec.task == "classification" or not cond]  # a regression table has no classes to condition on


@pytest.mark.parametrize("spec,conditional", SHAPE_CASES)
def test_shapes(spec, conditional):
    gan = build_model(GANConfig(conditional=conditional, width=8, latent_dim=5, spectral_norm=True), spec)
    y = torch.arange(4) % spec.num_classes if conditional else None
    x = gan.sample(4, y, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, *spec.input_shape)
    assert gan.discriminator(x, y).shape == (4,)


def test_arch_auto_and_upsampling_plan():
    assert type(build_model(GANConfig(width=8, conditional=False), IMAGE).generator).__name__ == "ConvGenerator"
    assert type(build_model(GANConfig(width=8), TABLE).generator).__name__ == "MLPGenerator"
    assert type(build_model(GANConfig(width=8, arch="mlp"), IMAGE).generator).__name__ == "MLPGenerator"
    assert (upsamplings((8, 8)), upsamplings((28, 28)), upsamplings((40,)), upsamplings((27,))) == (1, 2, 3, 0)


def test_spectral_norm_parametrizes_every_discriminator_layer():
    d = build_model(GANConfig(width=8, spectral_norm=True, conditional=True), IMAGE).discriminator
    weighted = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding))]
    assert weighted and all(hasattr(m, "parametrizations") for m in weighted)
    plain = build_model(GANConfig(width=8, conditional=False), IMAGE).discriminator
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_tanh_output_lies_in_the_data_range():
    gan = build_model(GANConfig(width=8, conditional=False), IMAGE)
    gan.set_data_range(0.0, 1.0)
    x = gan.sample(64, generator=torch.Generator().manual_seed(0))
    assert x.min() >= 0 and x.max() <= 1


def test_labels_change_the_conditional_sample():
    gan = build_model(GANConfig(width=8, conditional=True), IMAGE)
    a = gan.sample(2, torch.tensor([1, 1]), generator=torch.Generator().manual_seed(0))
    b = gan.sample(2, torch.tensor([2, 2]), generator=torch.Generator().manual_seed(0))
    assert not torch.equal(a, b)


def test_ema_moves_toward_the_generator_and_is_what_samples_come_from():
    gan = build_model(GANConfig(width=8, ema=0.9), TABLE)
    assert gan.sampler is gan.ema
    with torch.no_grad():
        for p in gan.generator.parameters():
            p.add_(1.0)
    before = [p.clone() for p in gan.ema.parameters()]
    gan.update_ema(0.9)
    for b, e, g in zip(before, gan.ema.parameters(), gan.generator.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * g)
    assert not any(p.requires_grad for p in gan.ema.parameters())
    assert any(k.startswith("ema.") for k in gan.state_dict())


def test_conditional_needs_labels():
    with pytest.raises(UserError, match="conditional"):
        build_model(GANConfig(conditional=True), TABLE)


def test_conv_needs_a_grid():
    with pytest.raises(UserError, match="arch: conv"):
        build_model(GANConfig(arch="conv"), TABLE)
