"""Configuration trees: every hyper-parameter defined once, reached by a dotted key.

A configuration is a frozen dataclass whose fields are either leaves (bool, int, float, str, or a tuple of
one of those) or configurations themselves (subtrees): an experiment's config holds the library's own
`mixmo.rl.PPOConfig` as its field `ppo`, so `ppo.lr` is defined once, with its docstring, in `PPOConfig`.
The docstring written under a field (the attribute-docstring convention) documents it.

`resolve` builds a tree from its defaults, named presets and `KEY=VALUE` text overrides, remembering where
each leaf's value came from; `to_dict` / `from_dict` turn a tree into nested JSON and back (strictly: an unknown
key or a value of the wrong type is a `ConfigError` naming it). Nothing here imports JAX, so the command line
can describe experiments without paying for it.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import math
import textwrap
import typing
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

DEFAULT = "default"
OVERRIDE = "--set"


class ConfigError(ValueError):
    """A user's configuration is invalid; the message names the problem and the fix."""


class Leaf(NamedTuple):
    """One settable value of a configuration tree."""

    key: str
    """Dotted path from the root, e.g. "ppo.lr"."""
    kind: Any
    """Its type: bool, int, float, str or tuple[X, ...]."""
    default: Any
    """Its value in the tree's defaults."""
    doc: str
    """The docstring written under the field (one line)."""


class Resolved(NamedTuple):
    """A configuration and, for every leaf, where its value came from ("default", "preset NAME" or "--set")."""

    config: Any
    sources: dict[str, str]


def is_config(obj) -> bool:
    """Whether `obj` is a configuration (a dataclass type or instance)."""
    return dataclasses.is_dataclass(obj)


@functools.cache
def leaves(config_type: type) -> dict[str, Leaf]:
    """Every leaf of `config_type`'s tree, in field order, keyed by dotted path."""
    return {leaf.key: leaf for leaf in _walk(config_type, config_type(), "")}


def _walk(config_type: type, default, prefix: str):
    hints = typing.get_type_hints(config_type)
    docs = field_docs(config_type)
    for field in dataclasses.fields(config_type):
        if not field.init:
            continue
        value = getattr(default, field.name)
        key = f"{prefix}{field.name}"
        if is_config(hints[field.name]):
            yield from _walk(hints[field.name], value, f"{key}.")
        else:
            yield Leaf(key, hints[field.name], value, docs.get(field.name, ""))


def get(config, key: str):
    """The value at dotted `key`."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def replace(config, key: str, value):
    """A copy of `config` with the value at dotted `key` replaced (subtrees copied along the path)."""
    head, _, rest = key.partition(".")
    if rest:
        return dataclasses.replace(config, **{head: replace(getattr(config, head), rest, value)})
    return dataclasses.replace(config, **{head: value})


def flat(config) -> dict[str, Any]:
    """`{dotted key: value}` of every leaf."""
    return {key: get(config, key) for key in leaves(type(config))}


def to_dict(config) -> dict[str, Any]:
    """The tree as nested plain dicts (tuples become lists), for JSON."""
    out = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        out[field.name] = to_dict(value) if is_config(value) else list(value) if isinstance(value, tuple) else value
    return out


def from_dict(config_type: type, data: Mapping, where: str):
    """The tree `to_dict` wrote, checked strictly; `where` (e.g. "DIR/config.json") names the source in errors.

    Keys missing from `data` take their defaults (a newer mixmo may add settings).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object of settings, got {type(data).__name__}.")
    known = leaves(config_type)
    values = _flatten_dict(data)
    config = config_type()
    for key, value in values.items():
        if key not in known:
            raise unknown_key(key, known, where)
        config = replace(config, key, coerce(key, value, known[key].kind, where))
    return config


def _flatten_dict(data: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flatten_dict(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class Cited(NamedTuple):
    """A preset value with where it comes from (e.g. `Cited(1e-4, "AgA App. E.1")`); `--show-config` shows the
    source beside the preset's name."""

    value: Any
    source: str


def resolve(config_type: type, *, presets: Mapping[str, Mapping[str, Any]] | None = None,
            chosen: Sequence[str] = (), overrides: Mapping[str, str] | None = None) -> Resolved:
    """Defaults, then each chosen preset in order, then the `--set` text overrides (which win); validated.

    Args:
        presets: name -> {dotted key: value} that the experiment declares (values typed, or text, or `Cited`).
        chosen: the presets to apply, in order.
        overrides: {dotted key: text} from the command line.
    """
    presets = presets or {}
    known = leaves(config_type)
    config = config_type()
    sources = dict.fromkeys(known, DEFAULT)
    for name in chosen:
        if name not in presets:
            options = ", ".join(sorted(presets)) or "none"
            raise ConfigError(f"--preset {name}: unknown preset; this experiment has: {options}.")
        for key, value in presets[name].items():
            if key not in known:
                raise unknown_key(key, known, f"preset {name}")
            source = f"preset {name}"
            if isinstance(value, Cited):
                value, source = value.value, f"preset {name} ({value.source})"
            parsed = parse(key, value, known[key].kind) if isinstance(value, str) else coerce(
                key, value, known[key].kind, f"preset {name}")
            config = replace(config, key, parsed)
            sources[key] = source
    for key, text in (overrides or {}).items():
        if key not in known:
            raise unknown_key(key, known, "--set")
        config = replace(config, key, parse(key, text, known[key].kind))
        sources[key] = OVERRIDE
    validate(config)
    return Resolved(config, sources)


def validate(config, prefix: str = "") -> None:
    """Call every node's `validate()` (subtrees first); a `ValueError` becomes a `ConfigError` naming the node."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if is_config(value):
            validate(value, f"{prefix}{field.name}.")
    check = getattr(config, "validate", None)
    if check is None:
        return
    try:
        check()
    except ConfigError:
        raise
    except ValueError as error:
        where = f"{prefix.rstrip('.')}: " if prefix else ""
        raise ConfigError(f"{where}{error}") from None


def unknown_key(key: str, known: Mapping[str, Any], where: str) -> ConfigError:
    """A `ConfigError` for an unknown dotted key, naming the closest known keys."""
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    last = key.rsplit(".", 1)[-1]
    close += [k for k in known if k.rsplit(".", 1)[-1] == last and k not in close]
    hint = f"did you mean {', '.join(close[:4])}?" if close else "see `mixmo run NAME --show-config`."
    return ConfigError(f"{where}: unknown setting {key!r}; {hint}")


def parse(key: str, text: str, kind):
    """The value of `--set key=text` for a leaf of type `kind`."""
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--set {key}={text}: expected true or false.")
    if kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"--set {key}={text}: expected {'an integer' if kind is int else 'a number'}.") from None
        if kind is float and math.isnan(value):
            raise ConfigError(f"--set {key}={text}: NaN is not allowed.")
        return value
    if kind is str:
        return text
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(parse(key, part, item) for part in text.split(",") if part.strip())
    raise ConfigError(f"--set {key}: cannot be set from the command line.")


def coerce(key: str, value, kind, where: str):
    """`value` (from JSON or a preset) checked against the leaf type `kind`; ints are accepted for floats."""
    def bad():
        name = getattr(kind, "__name__", str(kind))
        return ConfigError(f"{where}: {key} = {value!r} is not a valid {name}; fix or delete that entry.")

    if kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise bad()
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad()
        return value
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad()
        item = typing.get_args(kind)[0]
        return tuple(coerce(key, v, item, where) for v in value)
    raise bad()


def field_docs(config_type: type) -> dict[str, str]:
    """The docstring written under each field of a config dataclass and of its dataclass bases; a subclass's
    own docstring wins."""
    docs = {}
    for cls in reversed([c for c in config_type.__mro__ if dataclasses.is_dataclass(c)]):
        docs.update(_own_field_docs(cls))
    return docs


@functools.cache
def _own_field_docs(config_type: type) -> dict[str, str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(config_type)))
    body = tree.body[0].body
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def describe(resolved: Resolved) -> list[str]:
    """Lines for `--show-config`: `key = value  [source]` then the leaf's docstring, subtrees as headings."""
    config, sources = resolved
    lines, section = [], None
    for key, leaf in leaves(type(config)).items():
        head = key.rpartition(".")[0]
        if head != section:
            section = head
            if head:
                lines.append(f"[{head}]")
        indent = "  " if head else ""
        lines.append(f"{indent}{key} = {get(config, key)!r}  ({sources[key]})")
        if leaf.doc:
            lines.append(f"{indent}    {leaf.doc}")
    return lines
