"""Parameters of a chapter run: profiles, overrides, typed validation, YAML values.

Resolution order (later wins): the ``parameters`` cell's defaults (= the ``book`` profile)
< the chosen profile from the chapter's front matter < overrides (``-p NAME=VALUE``, ``-f``).
:func:`resolve` checks everything before any kernel starts, in this order: the profile name,
unknown parameter names (papermill would only warn), types against the cell's annotations,
then the experiment module's ``check_params`` for ranges. Every message follows the template
``The 'p' parameter of cost-under-dropout must be ...; got ....``; a name the chapter does not
declare is refused by :func:`check_name` as a mistake in what the user typed (``-p``, ``-f``,
a profile of the front matter), naming the command that lists the chapter's parameters and
the closest name.

A parameter whose default depends on another (an experiment module's
``DEPENDENT_DEFAULTS = {child: rule}``, e.g. :func:`follow_member`) follows it: when the user
did not set the child, ``rule(params)`` gives its value after the other layers are merged.
Values typed with ``-p``/``-f`` are read by ruamel.yaml (pure Python, YAML 1.2: ``010`` is 10,
``yes``, ``on`` and ``1:30`` are strings) and a ``-f`` file that sets a key twice is refused,
naming the file and both lines.

Type rules: an ``int`` is accepted for a ``float`` (and converted); ``bool`` is never an
``int`` or ``float``; a string is never a list.
"""

from __future__ import annotations

import importlib
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError

from dropout_study.validation import check_choice, described, did_you_mean, fail, short_repr

__all__ = [
    "PARAM_TYPES",
    "PROFILES",
    "check_profile",
    "check_type",
    "check_name",
    "resolve",
    "derived",
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


def check_name(name, spec, option: str, given, owner: str = "dropout-study run") -> str:
    """Return ``name`` if the chapter of ``spec`` declares it; else ``ValueError``, one line:
    ``option`` is where it was typed (``-p``: ``given`` is the ``NAME=VALUE`` text; ``-f``:
    ``given`` names the file; otherwise a mapping such as ``overrides`` or
    ``profiles.full``), then the command that lists the chapter's parameters and
    "Did you mean …?" for the closest declared name."""
    if name in spec.names:
        return name
    cid, n = spec.id, len(spec.names)
    what = f"a parameter of {cid} ('dropout-study params {cid}' lists all {n})"
    if option == "-p":
        allowed = f"NAME=VALUE with NAME {what}"
    elif option == "-f":
        allowed = f"a YAML file whose keys are each {what}"
        given = described(f"'{given}' with the key {str(name)!r}")
    else:
        allowed, given = f"a mapping whose keys are each {what}", described(f"the key {name!r}")
    try:
        fail(option, owner, allowed, given)
    except ValueError as exc:
        raise ValueError(str(exc) + did_you_mean(name, spec.names)) from None


def resolve(spec, profile: str = "book", overrides: Mapping | None = None, *, check=True) -> dict:
    """The parameters of one run of the chapter described by ``spec`` (a ``ChapterSpec``).

    ``overrides`` maps names to values (e.g. parsed from ``-p``/``-f``). With ``check`` the
    experiment module's ``check_params`` is called on a copy of the result. Returns a new
    dict in the cell's declaration order; nothing passed in is modified.
    """
    owner = spec.id
    profile = check_profile(profile)
    layers = [("parameters cell", spec.defaults())]
    if profile != "book":
        layers.append((f"profiles.{profile}", spec.profiles.get(profile, {})))
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            fail("overrides", owner, "a mapping of parameter names to values", overrides, TypeError)
        layers.append(("overrides", overrides))
    declared = spec.names
    out = {}
    for layer, values in layers:
        for name, value in values.items():
            check_name(name, spec, layer, name, owner)
            out[name] = check_type(value, spec.param(name).type, name, owner)
    out = {name: out[name] for name in declared}
    user_set = set(overrides or ())
    try:
        module = importlib.import_module(spec.experiment)
    except ImportError:
        if check:
            raise
        module = None
    for child, rule in getattr(module, "DEPENDENT_DEFAULTS", {}).items():
        if child in out and child not in user_set:
            out[child] = check_type(rule(dict(out)), spec.param(child).type, child, owner)
    if check and module is not None:  # (with check, a failed import has raised)
        try:
            module.check_params(dict(out))
        except (ValueError, TypeError) as exc:
            hint = _unset_hint(str(exc), out, user_set, profile)
            if not hint:
                raise
            raise type(exc)(f"{exc} {hint}") from None
    return out


def derived(spec, profile: str, overrides: Mapping, resolved: Mapping) -> dict:
    """The parameters the user did not set whose value in ``resolved`` follows one they did
    (the experiment's ``DEPENDENT_DEFAULTS``) and differs from the ``profile``'s own value:
    ``{name: {"value": value, "follows": [the parameters its rule reads]}}``, in declaration
    order; empty without ``overrides``. A run records it beside its parameters (``derived``
    in ``run.json``, ``metrics.json`` and each figure's JSON)."""
    if not overrides:
        return {}
    module = importlib.import_module(spec.experiment)
    rules = getattr(module, "DEPENDENT_DEFAULTS", {})
    plain = resolve(spec, profile, check=False)
    return {
        n: {"value": resolved[n], "follows": list(getattr(rules[n], "parents", ()))}
        for n in spec.names
        if n in rules and n not in overrides and resolved[n] != plain[n]
    }


def _unset_hint(message: str, values: Mapping, user_set: set, profile: str) -> str:
    """For an error naming a parameter the user did not set whose allowed values come from
    one they did (``[1, max_steps = 40]``, ``an interior member of pn_rates``: the name as a
    word of what is allowed): which value it kept and how to fix it; else ``""``."""
    m = re.match(r"The '(\w+)' parameter of \S+ must be (.*); got ", message, re.S)
    if not m or m.group(1) in user_set or m.group(1) not in values:
        return ""
    name, allowed = m.group(1), m.group(2)
    setters = [u for u in sorted(user_set) if re.search(rf"\b{re.escape(u)}\b", allowed)]
    if not setters:
        return ""
    return (
        f"({name} was not set: {short_repr(values[name])} is its {profile}-profile value; "
        f"set -p {name}=… or change {' or '.join(setters)}.)"
    )


def _reader():
    """ruamel.yaml's pure-Python safe loader: YAML 1.2 (``010`` is 10, ``0o17`` is 15,
    ``yes``/``on`` and ``1:30`` are strings), plain dicts and lists, and a mapping that repeats
    a key raises ``DuplicateKeyError``."""
    return YAML(typ="safe", pure=True)


def _yaml(text: str):
    return _reader().load(text)


def _duplicate(exc, text: str) -> str:
    """``"'seed' set twice (lines 1 and 3)"`` for ruamel's ``DuplicateKeyError`` ``exc``
    (its problem mark is the repeated key; the first one is found in the composed tree)."""
    mark = exc.problem_mark
    line = mark.line + 1
    stack = [_reader().compose(text)]
    while stack:
        node = stack.pop()
        value = getattr(node, "value", None)
        if not isinstance(value, list):
            continue
        for item in value:
            stack.extend(item if isinstance(item, tuple) else (item,))
        keys = [k for k, _ in value] if value and isinstance(value[0], tuple) else []
        for k in keys:
            if (k.start_mark.line, k.start_mark.column) == (mark.line, mark.column):
                first = next(o for o in keys if o.value == k.value)
                return f"{k.value!r} set twice (lines {first.start_mark.line + 1} and {line})"
    return f"a key set twice (line {line})"


def parse_value(text: str):
    """A ``-p`` value parsed as YAML 1.2: ``0.5`` → float, ``010`` → 10, ``[0, 0.25]`` → list,
    ``1e-3`` → float, ``true`` → bool, ``yes`` and ``abc`` → str."""
    try:
        return _yaml(text)
    except DuplicateKeyError as exc:
        fail(
            "-p",
            "dropout-study run",
            "a value that sets each key once",
            described(f"{text!r}: {_duplicate(exc, text)}"),
        )
    except YAMLError as exc:
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
    """A YAML file mapping parameter names to values (``-f params.yml``), read as UTF-8 with
    YAML 1.2 scalars; a key set twice is refused."""
    owner = "dropout-study run"
    path = Path(path)
    if not path.is_file():
        fail("-f", owner, "an existing YAML file", str(path))
    data_bytes = path.read_bytes()
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(
            "-f",
            owner,
            "a UTF-8 encoded YAML file",
            described(f"'{path}' (byte {exc.start} is not UTF-8)"),
        )
    try:
        data = _yaml(text)
    except DuplicateKeyError as exc:
        fail(
            "-f",
            owner,
            "a YAML mapping that sets each parameter once",
            described(f"'{path}': {_duplicate(exc, text)}"),
        )
    except YAMLError as exc:
        msg = str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path} is not valid YAML{where} ({msg}).") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        fail("-f", owner, "a YAML mapping of parameter names to values", str(path))
    return data
