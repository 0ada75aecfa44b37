"""The training loop.

Step ``t`` (``t = 0 .. n_steps-1``) starts from parameters ``θ_t``:

1. if ``t`` is an evaluation step (every ``eval_every`` steps, and after the last step), the
   evaluation-mode mean loss and accuracy of ``θ_t`` on the whole training set (and on the
   validation set, if given) are recorded;
2. a training-mode forward/backward pass on the step's batch draws the dropout masks ``m_t``
   from the ``masks`` stream; the mean data loss it computed, ``J(θ_t, m_t)``, is recorded in
   :attr:`History.step_loss` (and ``J + R(w)`` in :attr:`History.step_objective`);
3. the penalty's gradient (L2, or L1 sub-gradient) is added, the optimiser steps, and a
   proximal L1 penalty soft-thresholds the weights by ``lr · λ``.

The threshold ``lr · λ`` is the proximal step of plain gradient descent (ISTA). After an Adam
or a momentum step it is not a proximal method, so that combination is refused (ValueError
naming ``penalty``, before any step). For Adam, ``L1(λ, mode="scaled_proximal")`` asks by name
for the proximal step in Adam's metric: each weight soft-thresholded by
``lr · λ / (sqrt(v̂) + ε)`` (:meth:`dropout_study.nn.optim.Adam.denominators`).

So ``step_loss[t]`` and ``train_loss`` at ``eval_step == t`` are the same parameters seen
through a random mask and in evaluation mode.

Divergence (float32 and float64 alike): training stops with :class:`TrainingDiverged`, naming
the step and the learning rate, when a step's loss or an evaluated training loss is NaN or
infinite, or exceeds ``diverge_factor`` (default :data:`DIVERGENCE_FACTOR` = 100) times
``max(start, DIVERGENCE_FLOOR)`` with ``start`` the loss of step 0 and the floor 1 nat (so a
start near 0 does not make small fluctuations count). Pass ``diverge_factor=None`` to check
only for non-finite losses.

Stopping rule (STUDY.md, "Training budgets"): with ``stop=EarlyStopping(patience, min_delta)``
training ends at the first evaluation at which the monitored evaluation-mode loss (validation,
or training for ``monitor="train"``: convergence) has not improved on its best by more than
``min_delta`` nats for ``patience`` consecutive evaluations; ``n_steps`` is then only the cap.
With ``restore_best`` the model is left at the best evaluated parameters. The history says
where it stopped (``stopped_at``), where the best was (``best_step``) and whether the cap was
hit first (``capped``) — runs that hit the cap are counted and reported, never hidden.

How it runs: ``train`` checks its arguments, then trains the network as a stack of one
(:func:`dropout_study.nn.stack_jobs.run_jobs`, the code of
:func:`dropout_study.nn.stack.train_stack`), so a network's numbers are the same, bit for bit,
whether it trains alone or in any stack. Inside :func:`dropout_study.nn.deferred.run_cells`
(sweeps that stack) the call waits instead and trains in a stack with the networks other
cells are training at the same time, with the same result. The optimiser is left with the
network's moments (a later ``train`` with it continues from them); the layers' ``masks_`` are
not set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from dropout_study.nn import deferred
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam, base_optimizer
from dropout_study.nn.stack_jobs import Job, check_state, run_jobs
from dropout_study.nn.stopping import (
    DIVERGENCE_FACTOR,
    DIVERGENCE_FLOOR,
    EarlyStopping,
    History,
    TrainingDiverged,
)
from dropout_study.validation import as_generator, check_int, described, fail

__all__ = [
    "EarlyStopping",
    "History",
    "TrainingDiverged",
    "train",
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_FLOOR",
]


def train(
    model: MLP,
    X,
    y,
    *,
    optimizer,
    n_steps: int,
    batch_size: int | None = None,
    penalty=None,
    X_val=None,
    y_val=None,
    eval_every: int = 1,
    mask_rng=None,
    batch_rng=None,
    checkpoints=(),
    stop: EarlyStopping | None = None,
    fixed_masks=None,
    mask_average: int = 1,
    diverge_factor: float | None = DIVERGENCE_FACTOR,
) -> History:
    """Train ``model`` in place for ``n_steps`` parameter updates and return its history.

    Parameters
    ----------
    model : MLP
    X : (n, d) array; y : targets for the model's head
    optimizer : :class:`~dropout_study.nn.optim.SGD` or :class:`~dropout_study.nn.optim.Adam`
    n_steps : int >= 1
        Number of parameter updates.
    batch_size : int or None
        ``None`` (or ``>= n``) is full-batch; otherwise each epoch visits a fresh permutation
        (from ``batch_rng``) in batches of this size (the last one may be smaller).
    penalty : :class:`~dropout_study.nn.penalties.L1`, :class:`~dropout_study.nn.penalties.L2` or
    None
    X_val, y_val : validation data, optional
    eval_every : int >= 1
        Evaluate every this many steps (and always after the last step).
    mask_rng, batch_rng : numpy.random.Generator or int seed
        Streams for the dropout masks and the minibatch order.
    checkpoints : iterable of int
        Steps ``t`` in ``[0, n_steps]`` whose parameters ``θ_t`` are kept.
    stop : :class:`EarlyStopping` or None
        Stopping rule; ``n_steps`` is then the cap. With ``monitor="val"`` validation data are
        required. The history's arrays end at the step where training stopped.
    fixed_masks : list of masks or None
        A mask set for all ``n`` training rows (as from ``model.draw_masks(n, rng)``) used in
        *every* step instead of fresh masks from ``mask_rng``: gradient descent on the fixed
        objective ``J(θ, m)`` (full-batch only; see :mod:`dropout_study.nn.mask_control`).
    mask_average : int >= 1
        Full-batch only: each step's gradient is the mean of the gradients under this many
        fresh mask sets (one pass over the data stacked ``mask_average`` times; ``1`` is plain
        dropout). Evaluations still use the ``n`` training rows once.
    diverge_factor : float > 1 or None
        Divergence limit relative to the start loss (see the module docstring).
    """
    owner = "train"
    if not isinstance(model, MLP):
        fail("model", owner, "an MLP", type(model).__name__, TypeError)
    if not isinstance(base_optimizer(optimizer), SGD | Adam):
        fail("optimizer", owner, "an SGD or Adam optimiser (or a MaxNorm of one)", optimizer,
             TypeError)  # fmt: skip
    n_steps = check_int(n_steps, "n_steps", owner, low=1)
    eval_every = check_int(eval_every, "eval_every", owner, low=1)
    X = model._check_X(X)
    n = X.shape[0]
    y = model._head.targets(y, n, model.layer_sizes[-1], model.dtype)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", owner, low=1)
    full_batch = batch_size is None or batch_size >= n
    has_val = X_val is not None
    if has_val != (y_val is not None):
        fail("y_val", owner, "given together with X_val", y_val)
    if has_val:
        X_val = model._check_X(X_val)
        y_val = model._head.targets(y_val, X_val.shape[0], model.layer_sizes[-1], model.dtype)
    needs_masks = any(d.p > 0 for d in model.dropouts)
    mask_rng = as_generator(mask_rng, "mask_rng", owner) if mask_rng is not None else None
    if needs_masks and mask_rng is None and fixed_masks is None:
        fail("mask_rng", owner, "a Generator or seed when the model has dropout", mask_rng)
    if not full_batch:
        if batch_rng is None:
            fail("batch_rng", owner, "a Generator or seed for minibatch training", batch_rng)
        batch_rng = as_generator(batch_rng, "batch_rng", owner)
    if isinstance(checkpoints, str | bytes) or not isinstance(checkpoints, Iterable):
        fail("checkpoints", owner, "an iterable of ints", checkpoints, TypeError)
    ckpts = set()
    for c in checkpoints:
        ckpts.add(check_int(c, "checkpoints", owner, low=0, high=n_steps))
    if penalty is not None and not hasattr(penalty, "value"):
        fail("penalty", owner, "an L1 or L2 penalty or None", penalty, TypeError)
    mask_average = check_int(mask_average, "mask_average", owner, low=1)
    if mask_average > 1 and (not full_batch or fixed_masks is not None):
        fail("mask_average", owner, "1 for minibatch or fixed-mask training", mask_average)
    if fixed_masks is not None:
        if not full_batch:
            fail("fixed_masks", owner, "None for minibatch training", "a mask set")
        fixed_masks = model._check_masks(fixed_masks, n)
    if diverge_factor is not None and not (
        isinstance(diverge_factor, int | float)
        and not isinstance(diverge_factor, bool)
        and 1 < diverge_factor < float("inf")
    ):
        fail("diverge_factor", owner, "a finite float > 1 or None", diverge_factor)
    if stop is not None:
        if not isinstance(stop, EarlyStopping):
            fail("stop", owner, "an EarlyStopping or None", stop, TypeError)
        if stop.monitor == "val" and not has_val:
            fail("stop", owner, "monitor='train' when no validation data are given", stop)
    proximal = penalty is not None and getattr(penalty, "proximal", False)
    if proximal:
        _check_proximal(penalty, optimizer, penalty.mode == "scaled_proximal")
    check_state(optimizer, model, "optimizer", owner)
    job = Job(
        model=model, X=X, y=y, optimizer=optimizer, n_steps=n_steps,
        batch_size=None if full_batch else batch_size, penalty=penalty, X_val=X_val,
        y_val=y_val, eval_every=eval_every, mask_rng=mask_rng,
        batch_rng=None if full_batch else batch_rng, checkpoints=frozenset(ckpts), stop=stop,
        fixed_masks=fixed_masks, mask_average=mask_average, diverge_factor=diverge_factor,
    )  # fmt: skip
    submit = deferred.current()
    out = submit(job) if submit is not None else run_jobs([job])[0]
    if isinstance(out, BaseException):  # TrainingDiverged, or an error of the stack it ran in
        raise out
    return cast(History, out)  # deferred.current()'s function returns a History or an error


def _check_proximal(penalty, optimizer, scaled: bool) -> None:
    """Refuse a proximal L1 step whose threshold has no meaning after ``optimizer``'s step."""
    adaptive = isinstance(base_optimizer(optimizer), Adam)
    momentum = bool(getattr(optimizer, "momentum", 0.0))
    if scaled and not adaptive:
        fail(
            "penalty",
            "train",
            "L1 with mode='scaled_proximal' only together with an Adam optimiser "
            "(its threshold lr·λ/(sqrt(v̂)+ε) needs Adam's second moments)",
            penalty,
        )
    if not scaled and (adaptive or momentum):
        fail(
            "penalty",
            "train",
            "a proximal L1 with the plain threshold lr·λ only after a plain gradient step "
            "(SGD without momentum); after Adam ask for L1(λ, mode='scaled_proximal'), "
            "or use mode='subgradient'",
            described(f"{penalty!r} with {optimizer!r}"),
        )
