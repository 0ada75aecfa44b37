"""Rules about a chapter's parameters that the chapters and the book share.

- :func:`complete` — the chapter's ``check_params`` reads every parameter from the complete,
  resolved dict the book hands it (the defaults live only in the notebook's parameters cell);
  a missing one is named with the project's template;
- :func:`follow_member`, :func:`include_member` — dependent defaults, declared by an
  experiment module as ``DEPENDENT_DEFAULTS = {child: rule}`` and applied by
  :func:`dropout_study.book.params.resolve` when the user did not set the child.
"""

from __future__ import annotations

from collections.abc import Mapping

from dropout_study.seeds import SEED_MAX
from dropout_study.validation import check_int, described, fail

__all__ = ["complete", "follow_member", "include_member", "keep_members"]


def follow_member(child: str, parent: str, where=None):
    """A dependent default: ``child`` must be one of the list ``parent``. The rule keeps the
    child's value if it is a member (satisfying ``where``), else takes the member nearest to
    it (ties: the larger). Declare it in an experiment module as
    ``DEPENDENT_DEFAULTS = {"contour_rate": follow_member("contour_rate", "dropout_rates",
    where=lambda r: r > 0)}``."""

    def rule(params: Mapping):
        value, members = params[child], list(params[parent])
        ok = [m for m in members if where is None or where(m)]
        if value in ok or not ok:
            return value
        return min(ok, key=lambda m: (abs(m - value), -m))

    rule.parents = (parent,)  # type: ignore[attr-defined]  # read by the parameter listing
    return rule


def include_member(child: str, parent: str):
    """A dependent default the other way round: the list ``child`` must include the value
    ``parent`` (e.g. a learning-rate grid must include the chapter's ``lr``). When the user
    did not set the list, ``parent``'s value is added to it (kept sorted)."""

    def rule(params: Mapping):
        values = list(params[child])
        return values if params[parent] in values else sorted([*values, params[parent]])

    rule.parents = (parent,)  # type: ignore[attr-defined]  # read by the parameter listing
    return rule


def keep_members(child: str, parent: str):
    """A dependent default for a list that must be a subset of another: when the user did not
    set the list ``child``, its values that are not in the list ``parent`` are dropped (order
    kept), so that narrowing ``parent`` alone (e.g. ``-p alt_datasets=[circles]``) narrows
    ``child`` with it instead of failing on a value the user never set. A value the user set
    is checked as it is."""

    def rule(params: Mapping):
        members = list(params[parent])
        return [v for v in params[child] if v in members]

    rule.parents = (parent,)  # type: ignore[attr-defined]  # read by the parameter listing
    return rule


class _Complete(dict):
    """A chapter's parameters; a missing one is named with the project's template."""

    owner: str

    def __missing__(self, key):
        fail(
            "params",
            self.owner,
            "a dict holding every parameter of the chapter's parameters cell (as resolved by "
            "dropout_study.book.params.resolve)",
            described(f"no {key!r}"),
        )


def complete(params, owner: str) -> dict:
    """``params`` (a dict of a chapter's resolved parameters) as a dict whose missing keys
    raise ``ValueError`` naming the parameter (the chapter's ``check_params`` reads every one).
    A chapter's defaults live only in its notebook's parameters cell."""
    if not isinstance(params, dict):
        fail("params", owner, "a dict of parameters", type(params).__name__, TypeError)
    if "seed" in params:  # every chapter's first seed, bounded once here
        check_int(params["seed"], "seed", owner, low=0, high=SEED_MAX)
    out = _Complete(params)
    out.owner = owner
    return out
