import pytest

from dlbench.bench.check import DEFINITIONS
from dlbench.bench.suite import custom_benchmark, get_benchmark, parse_target, suite
from dlbench.errors import UserError

SHIPPED = {"mnist1d-cnn", "digits-cnn", "diabetes-mlp", "numbers-transformer", "digits-gan", "pydoc-lm"}


def test_suite_ships_the_five_benchmarks_and_is_the_rules_source():
    s = suite()
    assert set(s) == SHIPPED == set(DEFINITIONS)
    for name, b in s.items():
        d = DEFINITIONS[name]
        assert (d.global_batch_size, d.opt_name, d.target) == (b.global_batch_size, b.optimizer, b.quality.target)
        assert b.version and b.min_runs >= 5 and b.max_steps > b.eval_every


def test_every_available_reference_config_resolves_to_its_definition():
    from dlbench.api import _as_config
    from dlbench.bench.suite import optimizer_facts

    for b in suite().values():
        if b.unavailable():
            continue
        cfg = _as_config(b.config, b.reference_overrides())
        assert optimizer_facts(cfg)["opt_name"] == b.optimizer, b.name
        assert (cfg.train.batch_size, cfg.train.eval_every, cfg.model.name) == (
            b.global_batch_size, b.eval_every, b.family), b.name


def test_unknown_family_is_refused_before_anything_is_written(tmp_path):
    from dlbench.bench.harness import run_benchmark

    b = get_benchmark("digits-cnn").model_copy(update={"family": "quantum"})
    with pytest.raises(UserError, match="'quantum' model family"):
        run_benchmark(b, 1, out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_reference_config_builds_with_the_benchmark_settings():
    from dlbench.api import _as_config

    b = get_benchmark("digits-cnn")
    cfg = _as_config(b.config, [*b.reference_overrides(), "train.seed=3"])
    assert (cfg.train.batch_size, cfg.optim.name, cfg.train.steps) == (64, "adamw", b.max_steps)
    assert cfg.train.early_stopping is None and not cfg.train.keep_best and cfg.train.eval_train_samples == 0
    assert cfg.train.checkpoint_every == b.max_steps  # no checkpoint inside the clock


@pytest.mark.parametrize("text, expected", [
    ("val.accuracy>=0.95", ("val.accuracy", ">=", 0.95)),
    (" val.loss < 3e-1 ", ("val.loss", "<", 0.3)),
    ("val.r2>.4", ("val.r2", ">", 0.4)),
    ("val.mae<=12", ("val.mae", "<=", 12.0)),
])
def test_parse_target(text, expected):
    q = parse_target(text)
    assert (q.metric, q.op, q.target) == expected


@pytest.mark.parametrize("text", ["val.accuracy", "0.95", "val.accuracy=>0.9", "val.accuracy>=high", ""])
def test_bad_target_is_a_user_error(text):
    with pytest.raises(UserError, match="metric"):
        parse_target(text)


def test_quality_reached_respects_direction_and_scale():
    assert parse_target("val.loss<=0.3").reached(0.3) and not parse_target("val.loss<0.3").reached(0.3)
    q = get_benchmark("numbers-transformer").quality  # BLEU 0..100 logged as BLEU / 100
    bleu = q.target / q.scale  # the target in sacrebleu's units (0..100)
    assert q.scale == 0.01 and q.reached(bleu) and not q.reached(bleu - 0.5) and not q.reached(float("nan"))


def test_unknown_benchmark_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'mnist1d-cnn'"):
        get_benchmark("mnist1d-cn")


def test_families_not_built_yet_say_so():
    from dlbench.recipes.registry import RECIPES

    b = get_benchmark("numbers-transformer")
    if "transformer" not in RECIPES:
        assert "does not have yet" in b.unavailable()
    assert get_benchmark("mnist1d-cnn").unavailable() is None


def test_custom_benchmark_from_a_config(write_yaml):
    from tests.conftest import tiny

    path = write_yaml(tiny("digits", "mlp", steps=30, eval_every=10), "my-cfg.yaml")
    b = custom_benchmark(str(path), "val.accuracy>=0.5")
    assert b.name == "custom-my-cfg" and b.custom and b.division == "open"
    assert (b.global_batch_size, b.optimizer, b.eval_every, b.max_steps) == (32, "adamw", 10, 30)
    with pytest.raises(UserError, match="shipped benchmark"):
        custom_benchmark(str(path), "val.accuracy>=0.5", name="digits-cnn")
    with pytest.raises(UserError, match="not allowed"):
        custom_benchmark(str(path), "val.accuracy>=0.5", name="../x")
