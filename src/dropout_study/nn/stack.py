"""Training K networks of one architecture at once: :func:`train_stack`.

A sweep trains dozens of small networks (seeds × rates × λs). One at a time, a numpy step is
mostly the dispatch of about 60 small ufunc calls around matrix products a sixth of its time;
stacked, those calls act on ``(K, batch, width)`` arrays and their cost is paid once per K.

:func:`train_stack` runs, for each network ``k``, the loop of :func:`dropout_study.training.train`
(read that module's docstring: step ``t`` evaluates ``θ_t`` every ``eval_every`` steps, draws
``m_t``, records ``J(θ_t, m_t)``, adds the penalty's gradient, steps, applies a proximal step;
stopping rule; divergence check), with its own:

- parameters, gradients and optimiser state (rows of ``(K, n_params)`` arrays,
  :mod:`dropout_study.stack_layers`, :mod:`dropout_study.stack_optim`);
- dropout rates, learning rate and optimiser hyper-parameters, penalty and λ, stopping rule;
- generators: dropout masks from ``mask_rngs[k]`` and minibatch orders from ``batch_rngs[k]``,
  consumed exactly as ``train`` consumes them;
- training and validation data, if given per network (all of the same shapes).

Every operation acts on each network's own slice (per-slice BLAS calls, per-network reductions,
per-network streams), so **a network's numbers are bit-identical whatever stack it trains in**
(its neighbours, their number, when they stop), and equal to ``train``'s on the same inputs.
A network that stops (stopping rule, or divergence with ``on_divergence="return"``) is frozen:
it leaves the stack and its history ends there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam, base_optimizer
from dropout_study.nn.stack_jobs import Job, check_state, run_jobs
from dropout_study.nn.stack_layers import StackedMLP
from dropout_study.nn.stopping import DIVERGENCE_FACTOR, EarlyStopping
from dropout_study.validation import as_generator, check_choice, check_int, described, fail

__all__ = ["train_stack"]

_OWNER = "train_stack"


def _per_network(value, name: str, K: int, *, single_ok: bool) -> list:
    """``value`` as a list of K entries: a list/tuple of K, or one value for all."""
    if isinstance(value, list | tuple):
        if len(value) != K:
            fail(name, _OWNER, f"a list of {K} entries (one per network)", value)
        return list(value)
    if not single_ok and value is not None:
        fail(name, _OWNER, f"a list of {K} entries (one per network)", value, TypeError)
    return [value] * K


def _generators(value, name: str, K: int, needed: list[bool], why: str) -> list:
    """One distinct Generator per network that needs one (``needed[k]``)."""
    items = _per_network(value, name, K, single_ok=False)
    out: list[np.random.Generator | None] = []
    for g, need in zip(items, needed, strict=True):
        if g is None:
            if need:
                fail(name, _OWNER, f"a Generator or seed for each network {why}", g)
            out.append(None)
        else:
            out.append(as_generator(g, name, _OWNER))
    used = [id(g) for g in out if g is not None]
    if len(set(used)) != len(used):
        fail(name, _OWNER, "distinct Generators (one per network)", described("a shared one"))
    return out


def _data(model: MLP, X, y, K: int, name: str):
    """``(X, y)`` checked: shared ``(n, d)`` or per network ``(K, n, d)`` (an array or a list
    of K arrays of one shape); targets likewise, converted by the head."""
    head, k_out, dtype = model._head, model.layer_sizes[-1], model.dtype
    per_net = isinstance(X, list | tuple) or np.ndim(X) == 3
    if not per_net:
        X = model._check_X(X)
        return X, head.targets(y, X.shape[0], k_out, dtype), False
    Xs, ys = list(X), list(y) if isinstance(y, list | tuple) or np.ndim(y) >= 2 else None
    if len(Xs) != K or ys is None or len(ys) != K:
        fail(name, _OWNER, f"shared, or {K} data sets (one per network) with {K} targets", X)
    Xs = [model._check_X(x) for x in Xs]
    if len({x.shape for x in Xs}) != 1:
        fail(name, _OWNER, "data sets of one shape", described(str({x.shape for x in Xs})))
    n = Xs[0].shape[0]
    return np.stack(Xs), np.stack([head.targets(t, n, k_out, dtype) for t in ys]), True


def train_stack(
    models: Sequence[MLP],
    X,
    y,
    *,
    optimizers,
    n_steps: int,
    batch_size: int | None = None,
    penalties=None,
    X_val=None,
    y_val=None,
    eval_every: int = 1,
    mask_rngs=None,
    batch_rngs=None,
    checkpoints=(),
    stops=None,
    fixed_masks=None,
    mask_average: int = 1,
    diverge_factor: float | None = DIVERGENCE_FACTOR,
    on_divergence: str = "raise",
) -> list:
    """Train K networks in place, each as ``train`` would, and return their histories.

    Parameters
    ----------
    models : list of K MLP
        Distinct networks of one architecture (layer sizes, activation, head, dtype); their
        dropout rates may differ. Each ends with its trained parameters (the best evaluated
        ones under ``restore_best``) and its last gradients, as after ``train``.
    X, y : training data, shared — ``(n, d)`` and the head's targets — or one data set per
        network — ``(K, n, d)`` (or a list of K arrays of one shape) and K targets.
    optimizers : an SGD or Adam, or a list of K (all SGD or all Adam, at one step count)
        Each network starts from its optimiser's moments (zero for a fresh one). A list of K
        distinct objects is left with each network's moments, as ``train`` leaves its
        optimiser; one object given for several networks is only read.
    n_steps, batch_size, eval_every, diverge_factor : as for ``train``, shared.
    checkpoints : as for ``train`` (shared), or a list of K such iterables (per network).
    penalties : None, an L1 or L2 penalty, or a list of K (entries may be None)
        On the weights only. A plain proximal L1 needs SGD without momentum, a
        ``scaled_proximal`` one Adam (ValueError naming the network otherwise, as ``train``).
    X_val, y_val : validation data, optional; shared or per network as ``X``, ``y``.
    mask_rngs, batch_rngs : lists of K Generators or seeds (distinct), entries None where
        not needed: masks for networks with dropout, batches for minibatch training.
    stops : None, an EarlyStopping, or a list of K (entries may be None).
    fixed_masks : None, or a list of K mask sets (as ``train`` takes one; full batch only).
    mask_average : int >= 1, as for ``train`` (full batch only; 1 with fixed masks).
    on_divergence : ``"raise"`` (default: the first divergence raises ``TrainingDiverged``
        naming the network, as ``train`` raises) or ``"return"`` (that network stops there,
        with its parameters at the step that diverged, and its entry in the result is the
        exception; the others go on).

    Returns
    -------
    list of K :class:`~dropout_study.training.History` (or TrainingDiverged, see above),
    in the order of ``models``, each with the fields and meaning ``train`` gives: losses are
    means over samples in nats (float64), the penalty ``R(w)`` acts on the weights only.
    ``train_stack([model], ...)[0]`` is ``train(model, ...)``, bit for bit (``train`` runs
    a stack of one), and a network's numbers do not depend on the stack it trains in.

    Raises
    ------
    TypeError, ValueError
        With the project's template (:func:`dropout_study.validation.fail`), before any step:
        the parameter, what it allows, the value (and the network, where one is at fault).
    TrainingDiverged
        With ``on_divergence="raise"``, prefixed ``Network k of the stack:`` (a stack of one
        raises ``train``'s exception as it is); the models are left at their current
        parameters.

    Notes
    -----
    Internally the rows are ordered by penalty kind and momentum, and work runs in blocks of
    networks (:data:`dropout_study.stack_layers.BLOCK_BYTES`); neither changes a number.
    Bit-identity (across stacks and with ``train``) holds for one numpy and BLAS build with the
    same thread settings, as any comparison of floating-point runs does. The optimiser objects
    given for several networks are not updated, and the layers' ``masks_`` are not set.
    """
    if isinstance(models, MLP) or not isinstance(models, list | tuple) or not models:
        fail("models", _OWNER, "a non-empty list of MLPs", models, TypeError)
    K = len(models)
    if len({id(m) for m in models}) != K:
        fail("models", _OWNER, "distinct MLP objects", described("a network listed twice"))
    net = StackedMLP(models)
    m0 = models[0]
    n_steps = check_int(n_steps, "n_steps", _OWNER, low=1)
    eval_every = check_int(eval_every, "eval_every", _OWNER, low=1)
    X, y, per_net = _data(m0, X, y, K, "X")
    n = X.shape[-2]
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", _OWNER, low=1)
    full_batch = batch_size is None or batch_size >= n
    has_val = X_val is not None
    if has_val != (y_val is not None):
        fail("y_val", _OWNER, "given together with X_val", y_val)
    val_per_net = False
    if has_val:
        X_val, y_val, val_per_net = _data(m0, X_val, y_val, K, "X_val")
    mask_average = check_int(mask_average, "mask_average", _OWNER, low=1)
    if mask_average > 1 and (not full_batch or fixed_masks is not None):
        fail("mask_average", _OWNER, "1 for minibatch or fixed-mask training", mask_average)
    check_choice(on_divergence, "on_divergence", _OWNER, ("raise", "return"))
    opts = _per_network(optimizers, "optimizers", K, single_ok=True)
    kinds = {type(base_optimizer(o)) for o in opts}
    if not (kinds <= {SGD} or kinds <= {Adam}):
        fail("optimizers", _OWNER, "SGD or Adam optimisers, all of one kind", optimizers, TypeError)
    for o, m in zip(opts, models, strict=True):
        check_state(o, m, "optimizers", _OWNER)
    if len({(o.state() or {}).get("t", 0) for o in opts}) > 1:
        fail("optimizers", _OWNER, "optimisers at one step count", described("several"))
    pens = _per_network(penalties, "penalties", K, single_ok=True)
    for k, (p, o) in enumerate(zip(pens, opts, strict=True)):
        if p is not None and not hasattr(p, "value"):
            fail("penalties", _OWNER, "L1 or L2 penalties or None", p, TypeError)
        _check_proximal(k, p, o)
    fixed = _fixed_masks(fixed_masks, models, K, n, full_batch)
    drop = [bool(net.rates[k].any()) and fixed is None for k in range(K)]
    mrngs = _generators(mask_rngs, "mask_rngs", K, drop, "with dropout")
    brngs = _generators(batch_rngs, "batch_rngs", K, [not full_batch] * K, "(minibatch)")
    ckpts = _checkpoints(checkpoints, K, n_steps)
    stops = _per_network(stops, "stops", K, single_ok=True)
    for s in stops:
        if s is not None and not isinstance(s, EarlyStopping):
            fail("stops", _OWNER, "EarlyStopping rules or None", s, TypeError)
        if s is not None and s.monitor == "val" and not has_val:
            fail("stops", _OWNER, "monitor='train' when no validation data are given", s)
    if diverge_factor is not None and not (
        isinstance(diverge_factor, int | float)
        and not isinstance(diverge_factor, bool)
        and 1 < diverge_factor < float("inf")
    ):
        fail("diverge_factor", _OWNER, "a finite float > 1 or None", diverge_factor)
    pick = lambda a, k, per: a[k] if per else a  # noqa: E731
    jobs = [
        Job(
            model=m,
            X=pick(X, k, per_net),
            y=pick(y, k, per_net),
            optimizer=opts[k],
            n_steps=n_steps,
            batch_size=None if full_batch else batch_size,
            penalty=pens[k],
            X_val=pick(X_val, k, val_per_net) if has_val else None,
            y_val=pick(y_val, k, val_per_net) if has_val else None,
            eval_every=eval_every,
            mask_rng=mrngs[k],
            batch_rng=brngs[k],
            checkpoints=ckpts[k],
            stop=stops[k],
            fixed_masks=None if fixed is None else fixed[k],
            mask_average=mask_average,
            diverge_factor=diverge_factor,
        )  # fmt: skip
        for k, m in enumerate(models)
    ]
    return run_jobs(jobs, on_divergence)


def _fixed_masks(value, models, K: int, n: int, full_batch: bool):
    """Each network's checked mask set for the ``n`` training rows, or None."""
    if value is None:
        return None
    if not full_batch:
        fail("fixed_masks", _OWNER, "None for minibatch training", "mask sets")
    sets = _per_network(value, "fixed_masks", K, single_ok=False)
    return [m._check_masks(v, n) for m, v in zip(models, sets, strict=True)]


def _checkpoints(value, K: int, n_steps: int) -> list[frozenset]:
    """Steps whose parameters each network keeps: one iterable of ints for all, or K."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        fail("checkpoints", _OWNER, "an iterable of ints", value, TypeError)
    items = list(value)
    if items and all(isinstance(c, Iterable) and not isinstance(c, str | bytes) for c in items):
        per = _per_network(items, "checkpoints", K, single_ok=False)
    else:
        per = [items] * K
    return [
        frozenset(check_int(c, "checkpoints", _OWNER, low=0, high=n_steps) for c in steps)
        for steps in per
    ]


def _check_proximal(k: int, penalty, optimizer) -> None:
    """The refusals of ``train``: a proximal threshold that has no meaning after the step."""
    if penalty is None or not getattr(penalty, "proximal", False):
        return
    scaled = penalty.mode == "scaled_proximal"
    adaptive = isinstance(base_optimizer(optimizer), Adam)
    momentum = bool(getattr(optimizer, "momentum", 0.0))
    if scaled and not adaptive:
        allowed = "L1 with mode='scaled_proximal' only together with an Adam optimiser"
    elif not scaled and (adaptive or momentum):
        allowed = (
            "a proximal L1 with the plain threshold lr·λ only after a plain gradient step "
            "(SGD without momentum); after Adam ask for L1(λ, mode='scaled_proximal')"
        )
    else:
        return
    fail("penalties", _OWNER, allowed, described(f"{penalty!r} with {optimizer!r} (network {k})"))
