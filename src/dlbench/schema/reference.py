"""A readable reference of every config key: type, default and the docstring under its field."""
from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dlbench.config.sections import OptimConfig, TrainConfig
from dlbench.data.registry import DATASETS
from dlbench.recipes.registry import RECIPES


def _type_name(ann) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(ann))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(ann, "__name__", str(ann)).replace("NoneType", "null")


def rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    out = []
    for name, f in model.model_fields.items():
        default = "(required)" if f.default is PydanticUndefined and f.default_factory is None else \
            repr(f.default_factory() if f.default_factory else f.default)
        sub = next((a for a in (f.annotation, *typing.get_args(f.annotation))
                    if isinstance(a, type) and issubclass(a, BaseModel)), None)
        listed = typing.get_origin(f.annotation) is list
        if listed:
            sub = next((a for a in typing.get_args(f.annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if isinstance(f.default, BaseModel):
            default = "(section)"
        out.append((f"{prefix}{name}", _type_name(f.annotation), default, (f.description or "").strip()))
        if sub is not None:
            out += rows(sub, f"{prefix}{name}{'[]' if listed else ''}.")
    return out


def reference(section: str | None = None) -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for data kinds, model families, optim and train."""
    table: list[tuple[str, str, str, str]] = []
    if section in (None, "data"):
        for kind, (cls, _) in DATASETS.items():
            table += [(f"data[{kind}].{k[5:]}", *rest) for k, *rest in rows(cls, "data.")]
    if section in (None, "model"):
        for name, recipe in RECIPES.items():
            table += [(f"model[{name}].{k[6:]}", *rest) for k, *rest in rows(recipe.config, "model.")]
    if section in (None, "optim"):
        table += rows(OptimConfig, "optim.")
    if section in (None, "train"):
        table += rows(TrainConfig, "train.")
    return table
