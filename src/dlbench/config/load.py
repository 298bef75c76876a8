"""Load a config: YAML file -> dict -> `-o a.b=v` overrides -> validated `Config`.

Validation reports every problem at once, each with the dotted path of the offending key, and
suggests the closest valid name for an unknown key.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from dlbench.errors import UserError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path to a YAML file, or the name of a shipped config (`mnist1d-cnn`)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = SHIPPED_DIR / f"{p.stem if p.suffix in ('.yaml', '.yml') else p.name}.yaml"
    if shipped.is_file():
        return shipped
    names = sorted(f.stem for f in SHIPPED_DIR.glob("*.yaml"))
    close = difflib.get_close_matches(str(p.stem), names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "`dlbench configs` lists the shipped configs"
    raise UserError(f"config file not found: {name_or_path}", hint)


# A config is a few hundred lines; these bounds sit far above any real one and far below what would
# exhaust memory or the interpreter's stack (PyYAML composes nested nodes recursively).
MAX_CONFIG_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_NODES = 100_000


class YAMLLimitError(yaml.MarkedYAMLError):
    """Well-formed YAML that is refused: a duplicate key, or a document beyond the bounds above."""


class BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys and bounds nesting and size while composing,
    so an oversized document is refused before any of it is built. Aliases count as the size of
    what they stand for, so a billion-laughs document is refused too."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}  # id(anchored node) -> nodes it expands to

    def _count(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise YAMLLimitError(None, None, f"more than {MAX_NODES:,} values in one document", mark,
                                 "a config holds settings, not data: put data in a file that data.path names")

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            self._count(self._sizes.get(id(target), 1), event.start_mark)
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YAMLLimitError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark,
                                 "a config is a few levels deep: data/model/optim/train and their options")
        before = self._nodes
        self._count(1, mark)
        node = super().compose_node(parent, index)
        self._sizes[id(node)] = self._nodes - before
        self._depth -= 1
        return node

    def construct_mapping(self, node, deep=False):
        # SafeLoader lets the last of two equal keys win silently; a config with two `lr:` is a mistake.
        # Merge keys (`<<: *defaults`) are exempt: overriding merged values is what they are for.
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:
                    continue  # unhashable key: SafeLoader reports it
                if first is not key_node.start_mark:
                    raise YAMLLimitError(None, None, f"duplicate key '{key}' (first at line {first.line + 1})",
                                         key_node.start_mark, "keep one of them; YAML would silently use the last")
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str):
    """`yaml.safe_load` with the bounds and the duplicate-key check of `BoundedLoader`."""
    return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # never more, whatever the file claims to be
        if len(data) > MAX_CONFIG_BYTES:
            raise UserError(f"{path}: config file is larger than {MAX_CONFIG_BYTES // 2**20} MiB",
                            "a config holds settings; put data in a file that data.path names")
        raw = load_yaml_text(data.decode("utf-8"))
    except YAMLLimitError as e:
        mark = e.problem_mark
        raise UserError(f"{path}: line {mark.line + 1}, column {mark.column + 1}: {e.problem}", e.note) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}", "fix the syntax") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read config: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a config must be a YAML mapping with data/model/optim/train sections")
    return raw


def _parse_value(text: str) -> Any:
    try:
        return load_yaml_text(text) if text != "" else ""
    except YAMLLimitError as e:
        raise UserError(f"override value {text[:40]!r}{'...' if len(text) > 40 else ''}: {e.problem}", e.note) from None
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `dotted.key=value` overrides (values parsed as YAML: 3e-3, true, [1, 2])."""
    out = yaml.safe_load(yaml.safe_dump(raw))  # deep copy of plain data
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"override '{item}' is not of the form dotted.key=value", "e.g. -o optim.lr=3e-3")
        parts = key.strip().split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(node, list):
                node = _list_slot(node, part, item)
                continue
            if part not in node or node[part] is None:
                node[part] = [] if nxt.isdigit() else {}
            node = node[part]
            if not isinstance(node, (dict, list)):
                raise UserError(f"override '{item}': '{'.'.join(parts[:i + 1])}' is a value, not a section")
        last = parts[-1]
        if isinstance(node, list):
            idx = int(last) if last.isdigit() else None
            if idx is None or idx > len(node):
                raise UserError(f"override '{item}': index {last} is out of range for a list of {len(node)}")
            if idx == len(node):
                node.append(_parse_value(value))
            else:
                node[idx] = _parse_value(value)
        else:
            node[last] = _parse_value(value)
            if isinstance(node, dict) and parts[:-1] == ["train"] and last in EXCLUSIVE:
                node.pop(EXCLUSIVE[last], None)  # `-o train.epochs=3` replaces the config's train.steps
    return out


EXCLUSIVE = {"steps": "epochs", "epochs": "steps"}
"""train keys of which a config gives one: an override of one replaces the other."""


def _list_slot(node: list, part: str, item: str):
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"override '{item}': '{part}' is not a valid index into a list of {len(node)}")
    return node[int(part)]


def dump_config(cfg) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
