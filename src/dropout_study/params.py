"""Parameters of a chapter run: profiles, overrides, typed validation, YAML values.

Resolution order (later wins): the ``parameters`` cell's defaults (= the ``book`` profile)
< the chosen profile from the chapter's front matter < overrides (``-p NAME=VALUE``, ``-f``).
:func:`resolve` checks everything before any kernel starts, in this order: the profile name,
unknown parameter names (papermill would only warn), types against the cell's annotations,
then the experiment module's ``check_params`` for ranges. Every message follows the template
``The 'p' parameter of cost-under-dropout must be ...; got ....``

Type rules: an ``int`` is accepted for a ``float`` (and converted); ``bool`` is never an
``int`` or ``float``; a string is never a list.
"""

from __future__ import annotations

import importlib
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from dropout_study.validation import check_choice, fail, fail_undeclared

__all__ = [
    "PARAM_TYPES",
    "PROFILES",
    "check_profile",
    "check_type",
    "resolve",
    "parse_value",
    "parse_assignment",
    "load_file",
]

PROFILES = ("smoke", "book", "full")
"""``smoke``: seconds per chapter (tests, CI); ``book``: the cell defaults; ``full``: paper."""

_ALLOWED = {
    "int": "an int",
    "float": "a float",
    "bool": "a bool (true or false)",
    "str": "a string",
    "list[int]": "a list of ints",
    "list[float]": "a list of floats",
    "list[str]": "a list of strings",
}

PARAM_TYPES = tuple(_ALLOWED)
"""Annotations a parameter may carry (what :func:`check_type` converts to)."""


def check_profile(profile, owner: str = "dropout-study") -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`."""
    return check_choice(profile, "profile", owner, PROFILES)


def _scalar(value, kind: str):
    """Return the converted scalar, or raise ``TypeError`` (message added by the caller)."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError
        return value
    raise ValueError(kind)  # pragma: no cover - PARAM_TYPES is closed


def check_type(value, type_name: str, name: str, owner: str):
    """Return ``value`` converted to ``type_name`` (one of :data:`PARAM_TYPES`).

    Raises ``TypeError`` with the project's template if it has another type.
    """
    allowed = _ALLOWED.get(type_name)
    if allowed is None:
        fail("type", owner, "one of " + ", ".join(PARAM_TYPES), type_name)
    try:
        if type_name.startswith("list["):
            if not isinstance(value, list | tuple):
                raise TypeError
            return [_scalar(v, type_name[5:-1]) for v in value]
        return _scalar(value, type_name)
    except TypeError:
        fail(name, owner, allowed, value, TypeError)


def resolve(spec, profile: str = "book", overrides: Mapping | None = None, *, check=True) -> dict:
    """The parameters of one run of the chapter described by ``spec`` (a ``ChapterSpec``).

    ``overrides`` maps names to values (e.g. parsed from ``-p``/``-f``). With ``check`` the
    experiment module's ``check_params`` is called on a copy of the result. Returns a new
    dict in the cell's declaration order; nothing passed in is modified.
    """
    owner = spec.id
    profile = check_profile(profile)
    layers = [spec.defaults()]
    if profile != "book":
        layers.append(spec.profiles.get(profile, {}))
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            fail("overrides", owner, "a mapping of parameter names to values", overrides, TypeError)
        layers.append(overrides)
    declared = spec.names
    out = {}
    for values in layers:
        for name, value in values.items():
            if name not in declared:
                fail_undeclared(name, owner, declared, value)
            out[name] = check_type(value, spec.param(name).type, name, owner)
    out = {name: out[name] for name in declared}
    if check:
        module = importlib.import_module(spec.experiment)
        module.check_params(dict(out))
    return out


# YAML 1.1 (PyYAML) reads 1e-3 as a string; accept it as a float like YAML 1.2 does.
class _Loader(yaml.SafeLoader):
    pass


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str):
    """A ``-p`` value parsed as YAML: ``0.5`` → float, ``[0, 0.25]`` → list, ``1e-3`` → float,
    ``true`` → bool, ``abc`` → str."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        msg = str(exc).splitlines()[0]
        raise ValueError(f"The value {text!r} is not valid YAML ({msg}).") from exc


def parse_assignment(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` → ``(name, parsed value)``."""
    if not isinstance(text, str) or "=" not in text:
        fail("-p", "dropout-study run", "NAME=VALUE (value in YAML)", text)
    name, _, value = text.partition("=")
    name = name.strip()
    if not name.isidentifier():
        fail("-p", "dropout-study run", "NAME=VALUE with NAME a parameter name", text)
    return name, parse_value(value)


def load_file(path) -> dict:
    """A YAML file mapping parameter names to values (``-f params.yml``)."""
    path = Path(path)
    if not path.is_file():
        fail("-f", "dropout-study run", "an existing YAML file", str(path))
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        msg = str(exc).splitlines()[0]
        raise ValueError(f"{path} is not valid YAML ({msg}).") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        fail("-f", "dropout-study run", "a YAML mapping of parameter names to values", str(path))
    return data
