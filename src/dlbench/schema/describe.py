"""Pydantic validation errors as lines a person can act on: the key path, what is wrong, a did-you-mean."""
from __future__ import annotations

import difflib

from pydantic import BaseModel

from dlbench.data.registry import DATASETS
from dlbench.recipes.registry import RECIPES


def _fields_at(loc: tuple, root: type[BaseModel]) -> tuple[list[str], list[str]]:
    """Walk a pydantic error location; return (display path, field names valid at the last level)."""
    path: list[str] = []
    model: type[BaseModel] | None = root
    i = 0
    while i < len(loc):
        part = loc[i]
        if model is not None and isinstance(part, str) and part in model.model_fields:
            path.append(part)
            ann = model.model_fields[part].annotation
            if part == "data" and model is root:
                model = None
                if i + 1 < len(loc) and loc[i + 1] in DATASETS and len(loc) > i + 2:
                    model = DATASETS[loc[i + 1]][0]
                    i += 1
            elif part == "model" and model is root:
                model = None
                if i + 1 < len(loc) and loc[i + 1] in RECIPES and len(loc) > i + 2:
                    model = RECIPES[loc[i + 1]].config
                    i += 1
            else:
                model = submodel(ann)
        else:
            path.append(str(part))
            if not isinstance(part, int):
                break
        i += 1
    return path, list(model.model_fields) if model is not None else []


def submodel(ann) -> type[BaseModel] | None:
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in typing.get_args(ann):
        sub = submodel(a)
        if sub is not None:
            return sub
    return None


def describe(err: dict, root: type[BaseModel]) -> str:
    path, valid = _fields_at(tuple(err["loc"]), root)
    where = ".".join(path) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, key = ".".join(path[:-1]) or "top level", path[-1]
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
        return f"{where}: unknown key in {parent} ({hint})"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tag, expected = ctx.get("tag"), ctx.get("expected_tags", "")
        options = [t.strip(" '") for t in str(expected).split(",")]
        close = difflib.get_close_matches(str(tag), options, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of {expected}"
        return f"{where}: unknown value '{tag}' ({hint})"
    if kind == "union_tag_not_found":
        key = err.get("ctx", {}).get("discriminator", "kind").strip("'")
        return f"{where}: missing '{key}' (the section must say which {key} it is)"
    if kind == "missing":
        return f"{where}: required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {_short(got)})"
    return f"{where}: {msg}{shown}"


def _short(value, limit: int = 60) -> str:
    """repr of a value, cut so that a hostile megabyte-long value cannot flood the error line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value)):,} characters)"
