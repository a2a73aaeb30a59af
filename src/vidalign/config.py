"""Dataclass configs: YAML recipes plus ``key=value`` command-line overrides.

Every trainer and tool has one dataclass config whose fields carry help text in
``field(metadata={"help": ...})``. A recipe is a YAML mapping of those fields; nested
dataclasses are nested mappings, and overrides use dotted keys (``optim.lr=1e-4``). A nested
mapping sets only the keys it names: the others keep the config's default for that section
(``optim.lr=1e-4`` leaves the trainer's own warm-up and schedule as they are).

A numeric field states its range in the same metadata with ``gt`` / ``ge`` / ``lt`` / ``le``
(``metadata={"help": "learning rate", "gt": 0}``); for a list the bounds hold for every
item, and ``None`` (an optional field left unset) is always allowed. ``check_config`` tests
them; the loaders call it, and so does every trainer, for configs built in Python.

Unknown keys, values of the wrong type and values out of range are errors that name the key,
the value and where it came from: the recipe file, or the ``key=value`` override that set it.
A config class may list the fields it renamed in a ``RENAMED`` class attribute (old name →
new dotted name); a recipe that still uses an old name gets an error saying what it is now.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from vidalign.errors import VidalignError

T = TypeVar("T")


class ConfigError(VidalignError, ValueError):
    """A recipe or an override does not fit its config dataclass.

    ``key`` is the dotted field the error is about (``optim.lr``, ``dims[1]``), or None.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _fail(where: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}", key=where or None)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or an override string) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise _fail(where, f"{value!r} fits none of {tp}")
    if origin is typing.Literal:
        if isinstance(value, bool):  # YAML reads an unquoted no / off / yes / on as a bool
            words = [a for a in args if isinstance(a, str) and yaml.safe_load(a) is value]
            value = words[0] if len(words) == 1 else value
        if value not in args:
            raise _fail(where, f"{value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise _fail(where, f"expected a mapping for {tp.__name__}, got {value!r}")
        return _from_dict(tp, value, where)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, list | tuple):
            raise _fail(where, f"expected a list, got {value!r}")
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, f"expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(k, kt, where): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise _fail(where, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise _fail(where, f"expected an integer, got {value!r}")
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise _fail(where, f"expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise _fail(where, f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _fail(where, f"expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, dict | list):
            raise _fail(where, f"expected text, got {value!r}")
        return str(value)
    return value


def _default(cls: type, name: str) -> Any:
    f = cls.__dataclass_fields__[name]
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _from_dict(cls: type[T], data: dict[str, Any], where: str, base: Any = None) -> T:
    """``cls`` from ``data``; a nested mapping overrides only the keys it names of that
    section's default (``base``'s, or the field default of ``cls``: the trainer's own)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    renamed = getattr(cls, "RENAMED", {})
    moved = [k for k in unknown if k in renamed]
    if moved:
        dot = f"{where}." if where else ""
        told = "; ".join(f"{dot}{k} is now {dot}{renamed[k]}" for k in moved)
        raise ConfigError(f"{told} (rename it)", key=f"{dot}{moved[0]}")
    if unknown:
        first = f"{where}.{unknown[0]}" if where else unknown[0]
        problem = f"unknown key(s) {unknown}; known: {sorted(names)}"
        raise ConfigError(f"{where}: {problem}" if where else problem, key=first)
    kwargs = {}
    for k, v in data.items():
        key = f"{where}.{k}" if where else k
        start = getattr(base, k) if base is not None else _default(cls, k)
        tp = hints[k]
        if isinstance(v, dict) and dataclasses.is_dataclass(tp) and isinstance(start, tp):
            kwargs[k] = _from_dict(tp, v, key, start)
        else:
            kwargs[k] = _coerce(v, tp, key)
    return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)


_BOUNDS = {"gt": (operator.gt, ">"), "ge": (operator.ge, ">="),
           "lt": (operator.lt, "<"), "le": (operator.le, "<=")}  # fmt: skip


def _range_text(meta: Any) -> str:
    """``"> 0"``, ``">= 0 and <= 1"``: the range a field's metadata states ('' if none)."""
    return " and ".join(f"{sym} {meta[k]}" for k, (_, sym) in _BOUNDS.items() if k in meta)


def _check_range(value: Any, meta: Any, where: str) -> None:
    wanted = _range_text(meta)
    if not wanted or value is None or isinstance(value, bool | str):
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_range(item, meta, f"{where}[{i}]")
        return
    finite = not isinstance(value, float) or math.isfinite(value)
    if not finite or not all(op(value, meta[k]) for k, (op, _) in _BOUNDS.items() if k in meta):
        raise _fail(where, f"{value!r} must be {'a finite number ' if not finite else ''}{wanted}")


def check_config(cfg: Any, where: str = "") -> None:
    """Raise ``ConfigError`` naming the first field of ``cfg`` (a dataclass instance, nested
    ones included) whose value is outside the range its metadata states (module docstring)."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(value):
            check_config(value, key)
        else:
            _check_range(value, f.metadata, key)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: {part} is not a section")
    node[parts[-1]] = value


def _read_recipe(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the recipe ({err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or err
        raise ConfigError(f"{path}{at}: not valid YAML ({problem})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    return loaded


def _source(key: str | None, overridden: dict[str, str], recipe: Path | None) -> str:
    """Who set the value at dotted ``key``: the last override of it or of a section above it,
    else the recipe file."""
    for name, item in reversed(overridden.items()):
        if key is not None and (key == name or key.startswith((f"{name}.", f"{name}["))):
            return f"override {item!r}"
    return str(recipe) if recipe is not None else "config"


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Build a ``cls`` config from an optional YAML recipe and ``key=value`` overrides.

    Override values are parsed as YAML scalars (``lr=1e-4``, ``dims=[VQ,TA]``,
    ``lora=null``), then coerced to the field type. Errors name the recipe file (and the
    line, for YAML that does not parse) or the override that brought the bad value.
    """
    recipe = Path(path) if path is not None else None
    data = _read_recipe(recipe) if recipe is not None else {}
    overridden: dict[str, str] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        _set_dotted(data, key.strip(), value)
        overridden.pop(key.strip(), None)  # the last override of a key is the one that counts
        overridden[key.strip()] = item
    try:
        cfg = _from_dict(cls, data, "")
        check_config(cfg)
    except ConfigError as err:
        raise ConfigError(f"{_source(err.key, overridden, recipe)}: {err}", key=err.key) from None
    return cfg


def parse_weights(text: str) -> dict[str, float]:
    """Per-dimension weights from ``"VQ=1,MQ=0.5,TA=0"`` → ``{"VQ": 1.0, "MQ": 0.5, "TA": 0.0}``.

    Raises ``ConfigError`` naming the item that is not ``NAME=NUMBER``, or when none is given.
    """
    out: dict[str, float] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"weights: expected NAME=NUMBER items like VQ=1,MQ=0.5, got {item!r}"
            ) from None
    if not out:
        raise ConfigError(f"weights: no NAME=NUMBER items in {text!r}")
    return out


def config_from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build a ``cls`` config from a (nested) mapping, with the same checks as ``load_config``."""
    try:
        cfg = _from_dict(cls, data, "")
        check_config(cfg)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}", key=err.key) from None
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-dict view of a config dataclass (tuples become lists), for YAML dumps."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` as a YAML recipe that ``load_config`` reads back to an equal config."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def describe_config(cls: type) -> str:
    """One line per field: name, type, default and help text (for ``--help``)."""
    lines = []
    for f in dataclasses.fields(cls):
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else "required"
            )
        )
        wanted = _range_text(f.metadata)
        bounds = f" ({wanted})" if wanted else ""
        lines.append(f"  {f.name} = {default!r}  {f.metadata.get('help', '')}{bounds}")
    return "\n".join(lines)
