"""How linear is a learned function? Second differences along random directions (chapter 5).

The essay tested in chapter 5 (Teague, 2019) says dropout makes the network's function "more
linear", measured by a "degree of linearity" Z, but its text gives no formula; it cites the
fragility heuristic of Taleb et al. (2012), a second-order difference. We make that precise.

Definitions
-----------
``f`` maps inputs ``X`` of shape ``(n, d)`` to outputs of shape ``(n,)`` or ``(n, k)``; for a
classifier ``f`` is the **logit** (the value before the sigmoid / softmax), because the
squashing head is itself curved: a perfectly affine logit still gives a curved probability.
For each row ``x`` of ``X``, ``n_directions`` random unit directions ``u`` (uniform on the
sphere, drawn independently for every row) and a step ``h`` (in the standardised units the
inputs are in):

- ``D2(x, u) = f(x + h u) - 2 f(x) + f(x - h u)`` — the second difference. It is zero for
  every affine ``f`` (``f(x) = A x + c``) and ``≈ h² uᵀ∇²f(x) u`` for a smooth ``f``.
- ``D1(x, u) = (f(x + h u) - f(x - h u)) / 2`` — the central first difference, ``≈ h ∇f·u``.
- ``Z = mean|D2| / mean|D1|``, the means running over rows, directions and outputs
  (a pooled ratio of means, not a mean of ratios, so that points where ``f`` is flat cannot
  blow it up).

``Z`` is **scale-free**: multiplying ``f`` by ``c ≠ 0`` multiplies ``D2`` and ``D1`` alike, so
``Z`` is unchanged and plain weight shrinkage (which mostly rescales the logit) cannot lower it.
The raw ``mean|D2|`` is *not* scale-free: it falls when ``f`` merely gets flatter. Both are
returned, with ``mean|D1|`` separately, because a ratio can fall when its denominator grows —
a function can look "more linear" by ``Z`` only because it got steeper.

A global companion is :func:`affine_misfit`, ``1 - R²`` of the best affine (least-squares)
fit of ``f`` on ``X``: 0 for an affine ``f``, near 1 when no affine function explains ``f``.

Worked example: for ``f(x) = ‖x‖²`` and a unit ``u``, ``D2 = 2h²`` and ``D1 = 2h x·u``
exactly, so ``Z = h / mean|x·u|``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from dropout_study.validation import as_generator, check_float, check_int, fail

__all__ = [
    "LinearityTerms",
    "Probes",
    "random_directions",
    "second_differences",
    "linearity_terms",
    "linearity_z",
    "affine_misfit",
    "logit_function",
    "hidden_function",
]


@dataclass(frozen=True)
class LinearityTerms:
    """The pieces of Z (all float, in the units of ``f``'s outputs except ``z``).

    ``z = mean_abs_d2 / mean_abs_d1`` (dimensionless; NaN if ``mean_abs_d1 == 0``, i.e. ``f``
    constant along every sampled direction); ``step`` is ``h``; ``n_evaluations`` the number
    of ``(row, direction, output)`` triples averaged over.
    """

    z: float
    mean_abs_d2: float
    mean_abs_d1: float
    step: float
    n_evaluations: int

    def as_dict(self) -> dict:
        return asdict(self)


def _check_X(X, owner: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype == object or not (
        np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)
    ):
        fail("X", owner, "a numeric array of shape (n, d)", f"dtype {X.dtype}", TypeError)
    if X.ndim != 2:
        fail("X", owner, "a 2-D array of shape (n, d)", f"shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        fail("X", owner, "an array with at least one row and one column", f"shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        fail("X", owner, "finite", "an array with NaN or inf")
    return X


def _check_f(f, owner: str) -> Callable:
    if not callable(f):
        fail("f", owner, "a callable mapping an (n, d) array to (n,) or (n, k)", f, TypeError)
    return f


def _call(f: Callable, X: np.ndarray, owner: str) -> np.ndarray:
    """``f(X)`` as float64 of shape ``(m, k)``, checked."""
    out = np.asarray(f(X))
    m = X.shape[0]
    if out.dtype == object or not np.issubdtype(out.dtype, np.number):
        fail("f", owner, "a function returning numbers", f"dtype {out.dtype}", TypeError)
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    if out.ndim != 2 or out.shape[0] != m:
        fail("f", owner, f"a function returning shape ({m},) or ({m}, k)", f"shape {out.shape}")
    out = out.astype(np.float64)
    if not np.all(np.isfinite(out)):
        fail("f", owner, "a function returning finite values", "NaN or inf")
    return out


def random_directions(n_directions: int, n: int, d: int, rng) -> np.ndarray:
    """Unit vectors uniform on the sphere in ``R^d``, shape ``(n_directions, n, d)``, float64.

    Direction ``[j, i]`` is the ``j``-th direction of row ``i``. Drawn as normalised standard
    normal vectors (in 1-D: ``±1`` with equal probability). This is exactly what
    :func:`linearity_terms` draws from ``rng`` first, so a test can rebuild its directions.
    """
    owner = "random_directions"
    n_directions = check_int(n_directions, "n_directions", owner, low=1)
    n = check_int(n, "n", owner, low=1)
    d = check_int(d, "d", owner, low=1)
    rng = as_generator(rng, "rng", owner)
    U = rng.standard_normal((n_directions, n, d))
    norms = np.linalg.norm(U, axis=-1, keepdims=True)
    # A zero vector has probability 0; guard anyway so the result is always unit length.
    while np.any(norms == 0):  # pragma: no cover - measure-zero event
        bad = norms[..., 0] == 0
        U[bad] = rng.standard_normal((int(bad.sum()), d))
        norms = np.linalg.norm(U, axis=-1, keepdims=True)
    return U / norms


class Probes:
    """The probe points of Z around the rows of ``X`` — ``x``, ``x + h u`` and ``x - h u``
    for every row and direction — stacked once, so that many functions can be probed at the
    same points without rebuilding them (chapter 5 measures every trained network, its hidden
    layers and its checkpoints at the same test inputs and directions).

    ``X``: ``(n, d)``; ``U``: ``(n_directions, n, d)`` unit rows (as from
    :func:`random_directions`); ``step``: ``h > 0``. ``points`` is the float64
    ``(n + 2 · n_directions · n, d)`` array ``[X; X + hU; X - hU]``. Raises ``ValueError`` /
    ``TypeError`` (one line) for a bad ``X``, ``U`` or ``step``.
    """

    def __init__(self, X, U, step: float, *, owner: str = "Probes") -> None:
        X = _check_X(X, owner)
        self.step = check_float(step, "step", owner, low=0.0, low_open=True)
        U = np.asarray(U, dtype=np.float64)
        n, d = X.shape
        if U.ndim != 3 or U.shape[1:] != (n, d):
            fail("U", owner, f"an array of shape (n_directions, {n}, {d})", f"shape {U.shape}")
        self.n, self.r = n, U.shape[0]
        plus = (X[None] + self.step * U).reshape(self.r * n, d)
        minus = (X[None] - self.step * U).reshape(self.r * n, d)
        self.points = np.concatenate([X, plus, minus])

    def differences(self, f, *, owner: str = "Probes.differences") -> tuple[np.ndarray, np.ndarray]:
        """``(D2, D1)``, each ``(n_directions, n, k)`` float64; ``f`` is called once, on
        :attr:`points`."""
        f = _check_f(f, owner)
        n, r = self.n, self.r
        out = _call(f, self.points, owner)
        k = out.shape[1]
        f0 = out[:n][None]  # (1, n, k)
        fp = out[n : n + r * n].reshape(r, n, k)
        fm = out[n + r * n :].reshape(r, n, k)
        return fp - 2.0 * f0 + fm, 0.5 * (fp - fm)

    def terms(self, f, *, owner: str = "Probes.terms") -> LinearityTerms:
        """:class:`LinearityTerms` of ``f`` at these probes (formulas in the module
        docstring)."""
        d2, d1 = self.differences(f, owner=owner)
        m2 = float(np.mean(np.abs(d2)))
        m1 = float(np.mean(np.abs(d1)))
        z = m2 / m1 if m1 > 0 else float("nan")
        return LinearityTerms(
            z=z, mean_abs_d2=m2, mean_abs_d1=m1, step=self.step, n_evaluations=int(d2.size)
        )


def second_differences(f, X, U, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``(D2, D1)``, each of shape ``(n_directions, n, k)``, float64, for directions ``U``.

    ``U`` has shape ``(n_directions, n, d)`` (unit rows, as from :func:`random_directions`).
    ``f`` is called once, on the stacked ``(n + 2 · n_directions · n, d)`` array
    (:class:`Probes`).
    """
    owner = "second_differences"
    f = _check_f(f, owner)
    return Probes(X, U, step, owner=owner).differences(f, owner=owner)


def linearity_terms(f, X, *, step: float = 0.5, n_directions: int = 16, rng=None) -> LinearityTerms:
    """Z with its numerator and denominator (see the module docstring for the formulas).

    Parameters
    ----------
    f : callable
        Maps float64 ``(m, d)`` inputs to ``(m,)`` or ``(m, k)`` outputs (e.g. the logits).
    X : array of shape ``(n, d)``
        The points where ``f`` is probed (the test inputs, standardised).
    step : float > 0
        ``h``, the distance of the probes from ``x``, in the units of ``X``.
    n_directions : int >= 1
        Random unit directions per row.
    rng : numpy.random.Generator, int seed, or None
        The ``measure`` stream; ``None`` means seed 0 (the measure is then deterministic, and
        the same directions are used for every ``f`` it is given).
    """
    owner = "linearity_terms"
    f = _check_f(f, owner)
    X = _check_X(X, owner)
    step = check_float(step, "step", owner, low=0.0, low_open=True)
    n_directions = check_int(n_directions, "n_directions", owner, low=1)
    rng = as_generator(0 if rng is None else rng, "rng", owner)
    U = random_directions(n_directions, X.shape[0], X.shape[1], rng)
    return Probes(X, U, step, owner=owner).terms(f, owner=owner)


def linearity_z(f, X, *, step: float = 0.5, n_directions: int = 16, rng=None) -> float:
    """``Z = mean|D2| / mean|D1|`` of ``f`` around the rows of ``X``; dimensionless.

    0 for every affine ``f``; unchanged when ``f`` is multiplied by a constant; NaN when ``f``
    is constant along every sampled direction. See :func:`linearity_terms` for the arguments
    and for the numerator and denominator.
    """
    return linearity_terms(f, X, step=step, n_directions=n_directions, rng=rng).z


def affine_misfit(f, X) -> float:
    """``1 - R²`` of the least-squares affine fit ``f(X) ≈ X B + c`` over the rows of ``X``.

    ``R²`` is pooled over outputs: ``1 - R² = Σ residual² / Σ (f - mean f)²`` (sums over rows
    and outputs). 0 for an affine ``f``; NaN if ``f`` is constant on ``X``. With ``n <= d + 1``
    rows every function is fitted exactly (the value is then 0 and meaningless): pass more
    rows than features.
    """
    owner = "affine_misfit"
    f = _check_f(f, owner)
    X = _check_X(X, owner)
    Y = _call(f, X, owner)
    A = np.column_stack([X, np.ones(X.shape[0])])
    coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
    resid = Y - A @ coef
    total = float(np.sum((Y - Y.mean(axis=0)) ** 2))
    if total == 0:
        return float("nan")
    return float(np.sum(resid**2) / total)


def logit_function(model) -> Callable[[np.ndarray], np.ndarray]:
    """``X ↦ model.forward(X)``: evaluation-mode logits ``(n, k)`` of an :class:`MLP`."""
    if not hasattr(model, "forward") or not hasattr(model, "hidden"):
        fail("model", "logit_function", "an MLP", type(model).__name__, TypeError)
    return lambda X: model.forward(X)


def hidden_function(model, layer: int = -1) -> Callable[[np.ndarray], np.ndarray]:
    """``X ↦ model.hidden(X, layer)``: evaluation-mode activations ``(n, width)`` of a hidden
    layer (after its nonlinearity), every unit an output of ``f``."""
    if not hasattr(model, "forward") or not hasattr(model, "hidden"):
        fail("model", "hidden_function", "an MLP", type(model).__name__, TypeError)
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        fail("layer", "hidden_function", "an int", layer, TypeError)
    n_hidden = len(model.layer_sizes) - 2
    if n_hidden < 1:
        fail("model", "hidden_function", "an MLP with at least one hidden layer", model)
    check_int(layer, "layer", "hidden_function", low=-n_hidden, high=n_hidden - 1)
    return lambda X: model.hidden(X, layer)
