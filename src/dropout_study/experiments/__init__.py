"""One module per chapter: ``check_params(params) -> params`` and ``run(params) -> Result``.

The module of chapter ``some-id`` is ``dropout_study.experiments.some_id``
(see :func:`dropout_study.chapters.experiment_module`).
"""

from __future__ import annotations

from dropout_study.validation import fail, fail_undeclared

__all__ = ["with_defaults"]


def with_defaults(chapter: str, params, defaults: dict) -> dict:
    """``defaults`` updated with ``params`` (a new dict), after rejecting a non-dict and any
    name that is not a parameter of ``chapter`` (the first unknown name, sorted, is named)."""
    if not isinstance(params, dict):
        fail("params", chapter, "a dict of parameters", type(params).__name__, TypeError)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        fail_undeclared(unknown[0], chapter, defaults, params[unknown[0]])
    return {**defaults, **params}
