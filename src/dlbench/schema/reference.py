"""A readable reference of every config key: type, default and the docstring under its field.

Grouped as a config is written: one group per data kind (`data.kind: csv`), one per model family
(`model.name: cnn`), then the shared optim, train and tracking sections and the run name. Every key has a
description (tests/unit/config/test_reference.py fails on one without): a new field needs a docstring under it.
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dlbench.config.sections import OptimConfig, TrackingConfig, TrainConfig
from dlbench.data.registry import DATASETS
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES

SECTIONS = ("data", "model", "optim", "train", "tracking", "name")
"""What `dlbench configs keys SECTION` accepts; `name` is the top-level run name."""

Row = tuple[str, str, str, str]
"""(key, type, default, meaning)."""


@dataclass
class Group:
    section: str
    """data, model, optim, train, tracking or name."""
    name: str | None
    """The data kind or the model family; None for the shared sections."""
    title: str
    """How the group is selected in YAML: `data.kind: csv`, `model.name: cnn`, `optim`."""
    about: str
    rows: list[Row] = field(default_factory=list)


def _type_name(ann) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(ann, "__name__", str(ann)).replace("NoneType", "null")


def _about(text: str | None) -> str:
    return " ".join((text or "").split())


def _plain(value):
    """A default as YAML would hold it: sections as mappings of what differs from their own defaults."""
    if isinstance(value, BaseModel):
        return {k: _plain(v) for k, v in value.model_dump(mode="json", exclude_defaults=True).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _default_text(value) -> str:
    """The default as it is written in a config (YAML flow style): 0.001, null, false, [128, 128], {channels: 32}."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text.removesuffix("\n...").strip()


def rows(model: type[BaseModel], prefix: str) -> list[Row]:
    """The keys of a section in YAML order, its discriminator (data.kind, model.name) first."""
    out = []
    fields = model.model_fields
    order = sorted(fields, key=lambda n: n not in ("kind", "name") or not prefix)  # stable: the rest keep their order
    for name in order:
        f = fields[name]
        default = "(required)" if f.default is PydanticUndefined and f.default_factory is None else \
            _default_text(f.default_factory() if f.default_factory else f.default)
        sub = next((a for a in (f.annotation, *typing.get_args(f.annotation))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        listed = typing.get_origin(f.annotation) is list
        if listed:
            sub = next((a for a in typing.get_args(f.annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if isinstance(f.default, BaseModel):
            default = "(section)"
        out.append((f"{prefix}{name}", _type_name(f.annotation), default, _about(f.description)))
        if sub is not None:
            out += rows(sub, f"{prefix}{name}{'[]' if listed else ''}.")
    return out


def _data_groups() -> list[Group]:
    return [Group("data", kind, f"data.kind: {kind}", _about(cls.model_fields["kind"].description), rows(cls, "data."))
            for kind, (cls, _) in DATASETS.items()]


def _model_groups() -> list[Group]:
    return [Group("model", name, f"model.name: {name}", _about(recipe.description or recipe.config.__doc__),
                  rows(recipe.config, "model.")) for name, recipe in RECIPES.items()]


def _shared_groups() -> list[Group]:
    from dlbench.schema.run_config import Config

    return [Group("optim", None, "optim", "The optimizer and the learning-rate schedule (every family).",
                  rows(OptimConfig, "optim.")),
            Group("train", None, "train", "Training length, batches, evaluation, checkpoints, devices (every family).",
                  rows(TrainConfig, "train.")),
            Group("tracking", None, "tracking", _about(TrackingConfig.__doc__), rows(TrackingConfig, "tracking.")),
            Group("name", None, "name", "The run's name (top level).",
                  [r for r in rows(Config, "") if r[0] == "name"])]


def groups(section: str | None = None, name: str | None = None) -> list[Group]:
    """The reference, a group per data kind, per model family and per shared section.

    section: one of SECTIONS, a data kind or a family name (then `name` must be None); name: a data kind
    (section data) or a family (section model). Unknown names raise UserError with the closest one."""
    kinds, families = list(DATASETS), list(RECIPES)
    if section is not None and section not in SECTIONS:
        if name is None and section in kinds:
            section, name = "data", section
        elif name is None and section in families:
            section, name = "model", section
        else:
            close = difflib.get_close_matches(section, [*SECTIONS, *kinds, *families], n=1)
            raise UserError(f"unknown section '{section}'",
                            f"did you mean '{close[0]}'?" if close else
                            f"use one of {', '.join(SECTIONS)}, a data kind or a model family")
    if name is not None:
        choices = {"data": kinds, "model": families}.get(section or "")
        if choices is None:
            raise UserError(f"'{section}' has no kinds or families to choose from",
                            "give a name only after data (a data kind) or model (a family)")
        if name not in choices:
            close = difflib.get_close_matches(name, choices, n=1)
            what = "data kind" if section == "data" else "model family"
            raise UserError(f"unknown {what} '{name}'",
                            f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(choices)}")
    out: list[Group] = []
    if section in (None, "data"):
        out += _data_groups()
    if section in (None, "model"):
        out += _model_groups()
    if section in (None, "optim", "train", "tracking", "name"):
        out += [g for g in _shared_groups() if section in (None, g.section)]
    return [g for g in out if name is None or g.name == name]


def reference(section: str | None = None) -> list[Row]:
    """(key, type, default, help) for data kinds, model families, optim, train and tracking, in one flat
    list; keys of a kind or family carry it in brackets: `data[csv].target`, `model[cnn].stages[].channels`."""
    table: list[Row] = []
    for g in groups(section):
        if g.section in ("data", "model"):
            n = len(g.section) + 1
            table += [(f"{g.section}[{g.name}].{k[n:]}", *rest) for k, *rest in g.rows]
        else:
            table += g.rows
    return table


def undescribed() -> list[str]:
    """Keys without a description (the test suite keeps this empty)."""
    return [k for k, _, _, meaning in reference() if not meaning]
