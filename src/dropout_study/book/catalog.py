"""What a reader at the terminal can ask about the chapters: ``dropout-study list``,
``list -v``, ``params CHAPTER`` and the parameter listing of ``run CHAPTER --help``.

The allowed range of each parameter is not typed twice: :func:`allowed_ranges` calls the
chapter's own ``check_params`` on its defaults while recording what each
``dropout_study.validation.check_*`` call was asked to enforce (bounds, choices, minimum list
length; a bound that is another parameter's value, ``validation.bound``, by that parameter's
name) and every further rule it states with ``validation.require`` ("increasing and without
repeats", "one of dropout_rates"), so the listing and the validation cannot disagree.
"""

from __future__ import annotations

import importlib
import json
import textwrap
from pathlib import Path

from dropout_study import parameters, validation
from dropout_study.book.source import ChapterSpec
from dropout_study.chapters.verdicts import WORDS, label

__all__ = [
    "allowed_ranges",
    "params_text",
    "list_lines",
    "list_verbose",
    "last_verdict",
]

_CHECKS = (
    "check_float",
    "check_int",
    "check_bool",
    "check_choice",
    "check_float_list",
    "check_int_list",
    "require",
)


class _Named:
    """A :func:`dropout_study.validation.bound` shown by its name (``max_steps``)."""

    def __init__(self, name: str):
        self.name = name

    def __format__(self, spec: str) -> str:
        return self.name


def _shown(value):
    return _Named(value.name) if isinstance(value, validation._Bound) else value


def _describe(check: str, kwargs: dict, args: tuple) -> str:
    low, high = _shown(kwargs.get("low")), _shown(kwargs.get("high"))
    low_open, high_open = kwargs.get("low_open", False), kwargs.get("high_open", False)
    interval = validation._interval(low, high, low_open, high_open)
    if check == "check_choice":
        choices = kwargs.get("choices", args[0] if args else ())
        return "one of " + ", ".join(repr(c) for c in choices)
    if check == "check_bool":
        return "true or false"
    if check in ("check_float", "check_int"):
        return "any" if low is None and high is None else interval
    n = kwargs.get("min_len", 1)
    each = "" if low is None and high is None else f", each in {interval}"
    order = kwargs.get("order", "increasing")
    rule = (
        validation.INCREASING
        if order == "increasing"
        else f"in any order: {order.removeprefix('any: ')}"
    )
    count = "zero or more items" if n <= 0 else f"at least {n} item{'s' if n != 1 else ''}"
    return f"{count}{each}, {rule}"


def allowed_ranges(spec: ChapterSpec, profile: str | None = None) -> dict[str, str]:
    """Parameter name -> allowed values as text (e.g. ``"[0, 1)"``), recorded from the
    experiment's ``check_params`` run on the cell defaults (with ``profile``'s values over
    them, if given: the text must not depend on which). Parameters it checks in its own way
    (or not at all) are missing from the result."""
    try:
        module = importlib.import_module(spec.experiment)
    except ImportError:
        return {}
    check_params = getattr(module, "check_params", None)
    if check_params is None:
        return {}
    found: dict[str, str] = {}
    rules: dict[str, list[str]] = {}
    originals = {}
    is_list = {p.name: p.type.startswith("list[") for p in spec.params}

    def recorder(check, original):
        if check == "require":

            def rule(ok, name, owner, allowed, *args, **kwargs):  # detail: message only
                if allowed not in rules.setdefault(name, []):
                    rules[name].append(allowed)
                return original(ok, name, owner, allowed, *args, **kwargs)

            return rule

        def wrapped(value, name, owner, *args, **kwargs):
            text = _describe(check, kwargs, args)
            if check == "check_choice" and is_list.get(name):
                text = "each " + text  # a list whose items are checked one by one
            found.setdefault(name, text)
            return original(value, name, owner, *args, **kwargs)

        return wrapped

    # the chapter's checks and the shared ones every chapter's check_params runs first
    # (``parameters.complete``: the seed's range), so the listing shows what an error says
    for mod in (parameters, module):
        for name in _CHECKS:
            if getattr(mod, name, None) is getattr(validation, name):
                originals[mod, name] = getattr(mod, name)
                setattr(mod, name, recorder(name, originals[mod, name]))
    try:
        check_params(spec.defaults() | dict(spec.profiles.get(profile, {}) if profile else {}))
    except (ValueError, TypeError):
        pass
    finally:
        for (mod, name), fn in originals.items():
            setattr(mod, name, fn)
    for name, texts in rules.items():
        found[name] = "; ".join([found[name], *texts] if name in found else texts)
    return found


def _value(v) -> str:
    return json.dumps(v)


def params_text(spec: ChapterSpec, width: int = 100) -> str:
    """Every parameter of a chapter: type, value in each profile, allowed range, meaning."""
    ranges = allowed_ranges(spec)
    lines = [f"Parameters of {spec.id} (values: book = the cell defaults, smoke, full):", ""]
    for p in spec.params:
        smoke = spec.profiles.get("smoke", {}).get(p.name, p.default)
        full = spec.profiles.get("full", {}).get(p.name, p.default)
        lines.append(f"  {p.name} ({p.type})")
        lines.append(
            f"      book: {_value(p.default)}   smoke: {_value(smoke)}   full: {_value(full)}"
        )
        lines.append(f"      allowed: {ranges.get(p.name, 'see the meaning')}")
        lines += textwrap.wrap(
            p.help, width=width, initial_indent="      meaning: ", subsequent_indent=" " * 15
        )
    lines += ["", f"Set one with: dropout-study run {spec.id} -p NAME=VALUE (VALUE is YAML)."]
    return "\n".join(lines)


def last_verdict(dest: Path) -> tuple[str | None, str | None, str]:
    """``(word, profile, sentence)`` of the last build of a chapter (``dest`` is its
    ``book/generated/<id>`` directory); ``(None, None, "")`` if it never ran, and
    ``(None, "damaged", <one-line reason>)`` if its ``metrics.json`` does not match the hash
    in its ``run.json``."""
    from dropout_study.book.records import DamagedRecord, read_metrics

    f = Path(dest) / "metrics.json"
    if not f.is_file():
        return None, None, ""
    try:
        m = read_metrics(dest)
    except DamagedRecord as exc:
        return None, "damaged", str(exc)
    word = m.get("verdict", {}).get("word")
    if word not in WORDS:
        return None, m.get("profile"), ""
    return word, m.get("profile"), m.get("verdict", {}).get("sentence", "")


def list_lines(project) -> list[str]:
    """One line per chapter: id, verdict of the last build (with its profile) and claim."""
    rows = []
    for cid in project.chapters:
        src = project.source(cid)
        if not src.is_file():
            rows.append((cid, "(no source yet)", ""))
            continue
        spec = project.spec(cid)
        word, profile, _ = last_verdict(project.dest(cid))
        if profile == "damaged":
            verdict = "damaged metrics.json (rebuild)"
        elif word is None:
            verdict = "not built"
        else:
            verdict = label(word) + ("" if profile == "book" else f" [{profile}]")
        rows.append((cid, verdict, " ".join(spec.claim.split())))
    w_id = max((len(r[0]) for r in rows), default=0)
    w_v = max((len(r[1]) for r in rows), default=0)
    return [f"{cid:<{w_id}}  {v:<{w_v}}  {claim}".rstrip() for cid, v, claim in rows]


def list_verbose(project) -> str:
    """``list -v``: per chapter the claim, the last verdict with its sentence, the
    parameters with their profile values and allowed ranges."""
    out = []
    for cid in project.chapters:
        src = project.source(cid)
        if not src.is_file():
            out += [cid, f"  (no source yet: {src})", ""]
            continue
        spec = project.spec(cid)
        word, profile, sentence = last_verdict(project.dest(cid))
        out.append(cid)
        out.append(f"  claim: {' '.join(spec.claim.split())}")
        out.append(f"  confirmation (full profile): {_confirmation(project, spec)}")
        if profile == "damaged":
            out.append(f"  verdict: {sentence}")
        elif word is None:
            out.append("  verdict: not built yet (dropout-study build)")
        else:
            out.append(f"  verdict ({profile} profile): {label(word)} — {sentence}")
        out += ["  " + ln if ln else "" for ln in params_text(spec).splitlines()]
        out.append("")
    return "\n".join(out)


def _confirmation(project, spec: ChapterSpec) -> str:
    from dropout_study.book import confirm
    from dropout_study.book.cache import chapter_science_hash
    from dropout_study.book.params import resolve

    code = chapter_science_hash(spec, project.package_dir)
    full = resolve(spec, "full", check=False)
    state = confirm.status(spec.id, code, project.root, full)
    if state == "damaged":
        found = confirm.read(spec.id, project.root, full)
        return f"damaged: {found.path} ({found.problem}); its page does not quote it"
    if state == "current":
        return "current (recorded with this checkout's science code)"
    if state == "none":
        return f"none recorded (dropout-study run {spec.id} --profile full records one)"
    if state == "other parameters":
        return (
            "other parameters: recorded before the full profile changed (rerun "
            f"{spec.id} with --profile full)"
        )
    return f"other code: recorded before the science changed (rerun {spec.id} with --profile full)"


def run_help_epilog(argv, project) -> str | None:
    """For ``run CHAPTER --help``: the chapter's parameters (as ``params CHAPTER``); ``None``
    for any other command line."""
    argv = list(argv or [])
    if "run" not in argv or not ({"-h", "--help"} & set(argv)) or project is None:
        return None
    rest = [a for a in argv[argv.index("run") + 1 :] if not a.startswith("-")]
    if not rest or rest[0] not in project.chapters or not project.source(rest[0]).is_file():
        return None
    try:
        return params_text(project.spec(rest[0]))
    except ValueError:
        return None
