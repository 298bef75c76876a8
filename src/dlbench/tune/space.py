"""The search space: a YAML file of parameters over any config key, validated like configs.

    metric: val.accuracy                 # optional: the task's own metric by default
    sampler: {name: tpe, seed: 0}        # tpe | random | grid | cmaes
    pruner: {name: asha}                 # median | asha | hyperband | none
    overrides: {train.steps: 2000}       # fixed for every trial
    params:
      optim.lr: {type: float, low: 1.0e-4, high: 3.0e-2, log: true}
      optim.name: {type: categorical, choices: [adamw, sgd]}
      optim.momentum: {type: float, low: 0.8, high: 0.99, when: {optim.name: sgd}}
      model.stages: {type: layers, depth: {low: 2, high: 4}, width: {low: 16, high: 64, step: 16},
                     item: {kernel: 3, stride: 2}}
      model.stages.*.residual: {type: categorical, choices: [true, false]}

Parameters are suggested in file order (Optuna's define-by-run), so `when` may only name a parameter
defined above it. `*` in a key stands for every element of the list at that point of the config.
Every problem is reported at once with its path; config keys are checked by validating sample
configs (each parameter at its extremes) against dlbench's `Config` schema.
"""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from dlbench.config.base import Section
from dlbench.errors import UserError

SHIPPED_SPACES = Path(__file__).resolve().parent.parent / "configs" / "spaces"
SCALAR = (type(None), bool, int, float, str)


class _Param(Section):
    when: dict[str, Any] | None = None
    """Suggest this parameter only when every named (earlier) parameter has that value (or one of a list)."""


class FloatParam(_Param):
    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)
    grid: list[float] | None = None
    """Values the grid sampler tries (a float range has no natural grid)."""

    @model_validator(mode="after")
    def _range(self):
        if not self.low < self.high:
            raise ValueError(f"empty range: low ({self.low}) must be < high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("give log or step, not both")
        return self


class IntRange(Section):
    low: int
    high: int
    step: int = Field(1, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _range(self):
        if not self.low < self.high:
            raise ValueError(f"empty range: low ({self.low}) must be < high ({self.high})")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError("log: true needs low >= 1 and step 1")
        return self


class IntParam(IntRange, _Param):
    type: Literal["int"] = "int"


class CategoricalParam(_Param):
    type: Literal["categorical"] = "categorical"
    choices: list[Any] = Field(min_length=1)

    @field_validator("choices")
    @classmethod
    def _distinct(cls, v):
        if len({json.dumps(c, sort_keys=True) for c in v}) != len(v):
            raise ValueError("choices must be distinct")
        return v


class LayersParam(_Param):
    """A list of `depth` equal layers of width `width`: [w, w, ...], or [{**item, width_key: w}, ...]."""

    type: Literal["layers"] = "layers"
    depth: IntRange
    width: IntRange
    item: dict[str, Any] | None = None
    width_key: str = "channels"


Param = Annotated[Union[FloatParam, IntParam, CategoricalParam, LayersParam], Field(discriminator="type")]
PARAM_TYPES = ("float", "int", "categorical", "layers")


class SamplerSpec(Section):
    name: Literal["tpe", "random", "grid", "cmaes"] = "tpe"
    seed: int = 0
    n_startup_trials: int | None = Field(None, ge=0)
    """tpe / cmaes: random trials before the model-based search starts (Optuna's default if null)."""


class PrunerSpec(Section):
    name: Literal["median", "asha", "hyperband", "none"] = "median"
    min_resource: int | None = Field(None, gt=0)
    """asha / hyperband, in training steps; default: train.eval_every (the first evaluation)."""
    max_resource: int | None = Field(None, gt=0)
    """hyperband, in training steps; default: train.steps."""
    reduction_factor: int | None = Field(None, ge=2)
    n_startup_trials: int = Field(5, ge=0)
    """median: trials that are never pruned, to build the median from."""
    n_warmup_steps: int = Field(0, ge=0)
    """median: no pruning before this training step."""


class Space(Section):
    metric: str | None = None
    """A validation metric (val.accuracy, val.loss, val.r2, ...); default: the task's own."""
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    overrides: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Param] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _validation_only(cls, v):
        if v is not None and not v.startswith("val."):
            raise ValueError("must be a validation metric (val.<name>): trials are never selected on train or test")
        return v

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


# ---- parsing: every problem at once, each with its path --------------------------------------------------

def _describe(err: dict, prefix: tuple, model) -> str:
    loc = list(prefix) + [p for p in err["loc"] if p not in PARAM_TYPES]
    where = ".".join(map(str, loc)) or "(top level)"
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        valid = list(getattr(_model_at(model, [x for x in err["loc"] if x not in PARAM_TYPES][:-1]), "model_fields", {}))
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
        return f"{where}: unknown key ({hint})"
    if kind == "union_tag_invalid":
        return f"{where}: unknown type '{err.get('ctx', {}).get('tag')}' (choose {', '.join(PARAM_TYPES)})"
    if kind == "union_tag_not_found":
        return f"{where}: missing 'type' (choose {', '.join(PARAM_TYPES)})"
    if kind == "missing":
        return f"{where}: required key is missing"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
    return f"{where}: {msg}{shown}"


def _model_at(model, path: list):
    """The section model that a pydantic error path ends in (for the valid keys of an unknown-key error)."""
    from dlbench.schema.describe import submodel

    for part in path:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        model = submodel(fields[part].annotation)
    return model


def _param_model(raw) -> type:
    kind = raw.get("type") if isinstance(raw, dict) else None
    return {"float": FloatParam, "int": IntParam, "categorical": CategoricalParam, "layers": LayersParam}.get(kind)


def parse_space(raw: dict, base: dict, source: str = "space") -> Space:
    """Validate a space dict against its schema and against the base config (a raw config dict)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise UserError(f"{source}: a search space must be a YAML mapping with a params section")
    rest = {k: v for k, v in raw.items() if k != "params"}
    try:
        space = Space.model_validate(rest)
    except ValidationError as e:
        problems += [_describe(err, (), Space) for err in e.errors()]
        space = Space()
    params_raw = raw.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        problems.append("params: required, a mapping of config keys to parameters")
        params_raw = {}
    adapter = TypeAdapter(Param)
    params: dict[str, Any] = {}
    for key, p in params_raw.items():
        try:
            params[key] = adapter.validate_python(p)
        except ValidationError as e:
            problems += [_describe(err, ("params", key), _param_model(p)) for err in e.errors()]
    space.params = params
    problems += _check_conditions(space)
    if space.sampler.name == "grid":
        problems += [f"params.{k}: the grid sampler needs `grid: [...]` or `step` for a float parameter"
                     for k, p in params.items() if isinstance(p, FloatParam) and p.grid is None and p.step is None]
    problems += check_against_config(space, base)
    if problems:
        problems = list(dict.fromkeys(problems))
        head = f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''} in the search space"
        raise UserError(head + "\n  " + "\n  ".join(problems))
    return space


def _check_conditions(space: Space) -> list[str]:
    out, seen = [], {}
    for key, p in space.params.items():
        for ck, cv in (p.when or {}).items():
            if ck not in seen:
                out.append(f"params.{key}.when.{ck}: not a parameter defined above this one")
                continue
            wanted = cv if isinstance(cv, list) else [cv]
            cond = seen[ck]
            if isinstance(cond, CategoricalParam):
                bad = [w for w in wanted if w not in cond.choices]
                if bad:
                    out.append(f"params.{key}.when.{ck}: {bad[0]!r} is not one of the choices {cond.choices}")
        seen[key] = p
    return out


def read_space(path: str | Path) -> tuple[dict, Path]:
    """The raw space dict of a YAML file, or of a shipped space (`configs/spaces/<name>.yaml`)."""
    from dlbench.config.load import read_yaml

    p = Path(path)
    if not p.is_file():
        shipped = SHIPPED_SPACES / f"{p.stem}.yaml"
        if not shipped.is_file():
            raise UserError(f"search space file not found: {path}", "give a YAML file (see configs/spaces/)")
        p = shipped
    return read_yaml(p), p


# ---- applying values to a config ------------------------------------------------------------------------

def apply_values(raw: dict, values: dict[str, Any]) -> dict:
    """The raw config with each dotted key set to its value; `*` expands over the list found there."""
    from dlbench.config import apply_overrides

    out = raw
    for key, value in values.items():
        keys = _expand(out, key)
        out = apply_overrides(out, [f"{k}={json.dumps(value)}" for k in keys])  # JSON is valid YAML
    return out


def _expand(raw: dict, key: str) -> list[str]:
    if "*" not in key.split("."):
        return [key]
    head, _, tail = key.partition(".*")
    node = raw
    for part in head.split("."):
        node = node[int(part)] if isinstance(node, list) else (node or {}).get(part)
    if not isinstance(node, list):
        raise UserError(f"'{key}': {head} is not a list in this config", "`*` stands for every element of a list")
    return [k for i in range(len(node)) for k in _expand(raw, f"{head}.{i}{tail}")]


def layers_value(p: LayersParam, depth: int, width: int) -> list:
    return [width if p.item is None else {**p.item, p.width_key: width} for _ in range(depth)]


def extremes(p) -> list[Any]:
    """Values of a parameter that a sample config is validated with."""
    if isinstance(p, FloatParam):
        return [p.low, p.high, *(p.grid or [])]
    if isinstance(p, IntParam):
        return [p.low, p.high]
    if isinstance(p, CategoricalParam):
        return list(p.choices)
    return [layers_value(p, p.depth.low, p.width.low), layers_value(p, p.depth.high, p.width.high)]


def check_against_config(space: Space, base: dict) -> list[str]:
    """Validate sample configs: each parameter at each extreme, with the values its condition needs."""
    from dlbench.schema.describe import describe as describe_config
    from dlbench.schema import Config

    try:
        base = apply_values(base, space.overrides)
        Config.model_validate(base)
    except UserError as e:
        return [f"overrides: {e.line()}"]
    except ValidationError as e:
        return [f"base config + overrides: {describe_config(err, Config)}" for err in e.errors()]
    out = []
    first = {k: extremes(p)[0] for k, p in space.params.items()}
    for key, p in space.params.items():
        cond = {ck: (cv[0] if isinstance(cv, list) else cv) for ck, cv in (p.when or {}).items() if ck in first}
        for value in extremes(p):
            try:
                Config.model_validate(apply_values(base, {**cond, key: value}))
            except UserError as e:
                out.append(f"params.{key}: {e.line()}")
            except ValidationError as e:
                for err in e.errors():
                    text = describe_config(err, Config)
                    out.append(f"params.{key}: {text.removeprefix(key + ': ')}")
    return out


# ---- suggesting ----------------------------------------------------------------------------------------

def _labels(choices: list) -> tuple[list, dict]:
    """Optuna stores only scalar choices; lists/dicts are suggested by their JSON text and mapped back."""
    if all(isinstance(c, SCALAR) for c in choices):
        return choices, {}
    labels = [json.dumps(c) for c in choices]
    return labels, dict(zip(labels, choices))


def _active(p, values: dict) -> bool:
    return all(values.get(ck, object()) in (cv if isinstance(cv, list) else [cv])
               for ck, cv in (p.when or {}).items())


def suggest(space: Space, trial) -> dict[str, Any]:
    """Config values for one Optuna trial, in file order (define-by-run: conditions see earlier values)."""
    values: dict[str, Any] = {}
    for key, p in space.params.items():
        if not _active(p, values):
            continue
        if isinstance(p, FloatParam):
            values[key] = trial.suggest_float(key, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntParam):
            values[key] = trial.suggest_int(key, p.low, p.high, step=p.step, log=p.log)
        elif isinstance(p, CategoricalParam):
            labels, back = _labels(p.choices)
            label = trial.suggest_categorical(key, labels)
            values[key] = back.get(label, label)
        else:
            d = trial.suggest_int(f"{key}.depth", p.depth.low, p.depth.high, step=p.depth.step, log=p.depth.log)
            w = trial.suggest_int(f"{key}.width", p.width.low, p.width.high, step=p.width.step, log=p.width.log)
            values[key] = layers_value(p, d, w)
    return values


def grid(space: Space) -> dict[str, list]:
    """The grid sampler's search space (conditional parameters are gridded too; inactive ones are unused)."""
    out: dict[str, list] = {}
    for key, p in space.params.items():
        if isinstance(p, FloatParam):
            n = int(round((p.high - p.low) / p.step)) if p.grid is None else 0
            out[key] = p.grid if p.grid is not None else [p.low + i * p.step for i in range(n + 1)]
        elif isinstance(p, IntParam):
            out[key] = list(range(p.low, p.high + 1, p.step))
        elif isinstance(p, CategoricalParam):
            out[key] = _labels(p.choices)[0]
        else:
            out[f"{key}.depth"] = list(range(p.depth.low, p.depth.high + 1, p.depth.step))
            out[f"{key}.width"] = list(range(p.width.low, p.width.high + 1, p.width.step))
    return out
