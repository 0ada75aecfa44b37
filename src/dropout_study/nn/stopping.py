"""The stopping rule of a training run and what the run records.

- :class:`EarlyStopping` — stop when the monitored evaluation-mode loss (validation, or
  training for convergence) has not improved by more than ``min_delta`` nats for ``patience``
  evaluations (STUDY.md, "Training budgets");
- :class:`History` — the per-step and per-evaluation record of a run, where it stopped, where
  its best evaluation was and whether it hit the step cap;
- :class:`TrainingDiverged` and its limits (:data:`DIVERGENCE_FACTOR`,
  :data:`DIVERGENCE_FLOOR`).

:func:`dropout_study.nn.training.train` uses all of them (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dropout_study.validation import check_int, fail

__all__ = [
    "EarlyStopping",
    "History",
    "TrainingDiverged",
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_FLOOR",
    "diverged",
]

DIVERGENCE_FACTOR = 100.0
"""Training has diverged once the loss exceeds this many times its start (see module doc)."""
DIVERGENCE_FLOOR = 1.0
"""Nats: the start loss used for the limit is at least this."""


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite, or grew beyond ``diverge_factor`` times its start."""


def diverged(t: int, value: float, optimizer, factor: float | None = None):
    """Raise :class:`TrainingDiverged` for the loss ``value`` at step ``t`` (beyond ``factor``
    times its start, or not finite when ``factor`` is None), naming the optimiser."""
    how = (
        f"grew beyond {factor:g} times its start (to {value:.4g})" if factor else f"became {value}"
    )
    raise TrainingDiverged(
        f"The loss {how} at step {t} of training with {optimizer!r}; "
        f"try a smaller learning rate (lr={optimizer.lr:g})."
    )


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when the monitored loss has not improved for ``patience`` evaluations.

    ``patience`` : int >= 1, counted in evaluations (``eval_every`` steps each);
    ``min_delta`` : float >= 0, nats — an improvement must beat the best so far by more;
    ``monitor`` : ``"val"`` (early stopping on validation loss) or ``"train"`` (convergence of
    the evaluation-mode training loss); ``restore_best`` : leave the model at the best
    evaluated parameters (default) or at the last ones.
    """

    patience: int = 10
    min_delta: float = 1e-4
    monitor: str = "val"
    restore_best: bool = True

    def __post_init__(self) -> None:
        owner = "EarlyStopping"
        check_int(self.patience, "patience", owner, low=1)
        if not (isinstance(self.min_delta, int | float) and 0 <= self.min_delta < float("inf")):
            fail("min_delta", owner, "a finite float >= 0 (nats)", self.min_delta)
        if self.monitor not in ("val", "train"):
            fail("monitor", owner, "'val' or 'train'", self.monitor)


@dataclass
class History:
    """What a training run recorded (arrays of float64 unless said).

    Attributes
    ----------
    step_loss : (n_steps,)
        Mean data loss computed in each step, in training mode with that step's masks, on
        that step's batch (nats).
    step_objective : (n_steps,)
        ``step_loss`` plus the penalty ``R(w)`` at the same parameters.
    eval_step : (n_evals,) int
        Steps ``t`` whose parameters ``θ_t`` were evaluated (``n_steps`` = after the last step).
    train_loss, train_acc : (n_evals,)
        Evaluation-mode mean data loss and accuracy on the whole training set.
    val_loss, val_acc : (n_evals,)
        The same on the validation set (NaN if none was given).
    penalty : (n_evals,)
        ``R(w)`` at the evaluated parameters (0 without a penalty).
    checkpoints : dict[int, ndarray]
        Flat parameter vectors ``θ_t`` at the requested checkpoint steps.
    stopped_at : int
        Number of parameter updates actually made (``n_steps`` unless a stopping rule fired).
    best_step : int
        Evaluated step with the lowest monitored loss (``-1`` without a stopping rule).
    capped : bool
        A stopping rule was given but training reached the step cap before it fired.
    """

    step_loss: np.ndarray
    step_objective: np.ndarray
    eval_step: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    penalty: np.ndarray
    checkpoints: dict[int, np.ndarray] = field(default_factory=dict)
    stopped_at: int = -1
    best_step: int = -1
    capped: bool = False

    @property
    def n_steps(self) -> int:
        return int(self.step_loss.shape[0])
