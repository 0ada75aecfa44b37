"""One network's training request, checked (:class:`Job`), and training a stack of them.

:func:`dropout_study.nn.training.train` and :func:`dropout_study.nn.stack.train_stack` check their
arguments with their own messages and turn each network's training into a :class:`Job`;
:func:`run_jobs` trains jobs of one :meth:`Job.key` as one stack (:class:`~dropout_study.nn.
stack_run.Run`). ``train`` is ``run_jobs([job])``: a stack of one. :mod:`dropout_study.nn.
deferred` groups the jobs of many ``train`` calls by their key.

The key (what the networks of one stack share): layer sizes, activation, head and dtype; the
optimiser's class and step count; the shapes and dtypes of the training data and targets and
of the validation data (or none); the number of steps, the batch size (None: full batch),
``eval_every``, ``mask_average``, whether masks are fixed, and ``diverge_factor``. They may
differ in everything else: data values, initial weights, dropout rates, learning rates and
other hyper-parameters, penalties, stopping rules (or none), checkpoints and random streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import base_optimizer
from dropout_study.nn.stack_layers import StackedMLP
from dropout_study.nn.stack_optim import group_key
from dropout_study.nn.stack_run import Run
from dropout_study.nn.stopping import EarlyStopping
from dropout_study.validation import described, fail

__all__ = ["Job", "run_jobs", "check_state"]


@dataclass(eq=False)
class Job:
    """One network's training, checked (what ``train(model, X, y, ...)`` was asked to do).

    ``X`` ``(n, d)`` and ``X_val`` are C-contiguous arrays of the model's dtype, ``y`` and
    ``y_val`` the head's targets (:mod:`dropout_study.nn.heads`); ``batch_size`` is None for
    full-batch training; ``mask_rng`` and ``batch_rng`` are Generators or None where not used;
    ``fixed_masks`` the model's mask set for the ``n`` rows (``MLP._check_masks``) or None.
    """

    model: MLP
    X: np.ndarray
    y: np.ndarray
    optimizer: object
    n_steps: int
    batch_size: int | None = None
    penalty: object = None
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    eval_every: int = 1
    mask_rng: np.random.Generator | None = None
    batch_rng: np.random.Generator | None = None
    checkpoints: frozenset = field(default_factory=frozenset)
    stop: EarlyStopping | None = None
    fixed_masks: list | None = None
    mask_average: int = 1
    diverge_factor: float | None = None

    def key(self) -> tuple:
        """What the networks of one stack must share (see the module docstring)."""
        m, opt = self.model, self.optimizer
        state = opt.state() if hasattr(opt, "state") else None
        val = None
        if self.X_val is not None:
            if self.y_val is None:
                raise ValueError("a Job with X_val has y_val too")
            val = (self.X_val.shape, self.y_val.shape, self.y_val.dtype)
        return (
            m.layer_sizes, m.activation, m.head_name, m.dtype,
            type(base_optimizer(opt)), state["t"] if state and "t" in state else 0,
            self.X.shape, self.y.shape, self.y.dtype, val,
            self.n_steps, self.batch_size, self.eval_every, self.mask_average,
            self.fixed_masks is not None, self.diverge_factor,
        )  # fmt: skip


def check_state(optimizer, model: MLP, name: str, owner: str) -> None:
    """Refuse an optimiser whose moments (from earlier steps) do not fit ``model``."""
    state = optimizer.state() if hasattr(optimizer, "state") else None
    if state and any(v.shape != (model.n_params,) for k, v in state.items() if k != "t"):
        fail(name, owner, "fresh, or used before on parameters of this network's size",
             described(f"{optimizer!r} with moments of another size"))  # fmt: skip


def _stacked(values: list, name: str) -> tuple[np.ndarray, bool]:
    """One array shared by every job (the very same object), or the jobs' arrays stacked."""
    if all(v is values[0] for v in values):
        return values[0], False
    return np.stack(values), True


def _fixed(jobs: list[Job], net: StackedMLP) -> list:
    """The jobs' fixed masks per dropout position of the stack: ``(K, n, width)`` bool, True
    where a network keeps every unit (rate 0, or no layer there), None where none drops."""
    n = jobs[0].X.shape[0]
    out: list[np.ndarray | None] = []
    for j, width in enumerate(net.widths):
        if not net.rates[:, j].any():
            out.append(None)
            continue
        arr = np.ones((len(jobs), n, width), dtype=np.bool_)
        for k, job in enumerate(jobs):
            if job.fixed_masks is None:  # Job.key holds whether there are fixed masks
                raise ValueError("jobs of one stack all have fixed masks or none")
            m = job.model
            # the model's own mask list: input dropout first (if it has a layer), then one per
            # hidden layer (if it has dropout layers at all)
            own = ([0] if m.input_dropout > 0 else []) + (
                [i + (1 if net.has_input else 0) for i in range(len(m.layer_sizes) - 2)]
                if m.dropout is not None
                else []
            )
            for mask, pos in zip(job.fixed_masks, own, strict=True):
                if pos == j and mask is not None:
                    arr[k] = mask
        out.append(arr)
    return out


def run_jobs(jobs: list[Job], on_divergence: str = "return") -> list:
    """Train ``jobs`` (all of one :meth:`Job.key`, distinct models and generators) as one
    stack; each model ends trained as ``train`` leaves it. Returns one History per job or, for
    a network that diverged, its :class:`~dropout_study.nn.stopping.TrainingDiverged`
    (``on_divergence="return"``; ``"raise"`` raises the first, naming the network).

    ``ValueError`` before any step if the jobs cannot share a stack (different keys, a model or
    a generator used twice); an optimiser object given to several jobs is read, not updated.
    """
    owner = "run_jobs"
    if len({j.key() for j in jobs}) != 1:
        fail("jobs", owner, "jobs of one key (Job.key)", described("jobs of several keys"))
    models = [j.model for j in jobs]
    if len({id(m) for m in models}) != len(models):
        fail("jobs", owner, "distinct models", described("a model trained twice"))
    for name in ("mask_rng", "batch_rng"):
        used = [id(getattr(j, name)) for j in jobs if getattr(j, name) is not None]
        if len(set(used)) != len(used):
            fail("jobs", owner, f"distinct {name} Generators", described("a shared one"))
    net = StackedMLP(models)
    opts = [j.optimizer for j in jobs]
    pens = [j.penalty for j in jobs]
    stops = [j.stop for j in jobs]
    if jobs[0].fixed_masks is not None:
        net.fix_masks(_fixed(jobs, net))
    X, per_net = _stacked([j.X for j in jobs], "X")
    y, y_per_net = _stacked([j.y for j in jobs], "y")
    if per_net != y_per_net:  # one shared and the other not: stack both
        X, y, per_net = np.stack([j.X for j in jobs]), np.stack([j.y for j in jobs]), True
    has_val = jobs[0].X_val is not None
    X_val = y_val = None
    val_per_net = False
    if has_val:  # every job has them: Job.key holds their shapes
        X_vals = [j.X_val for j in jobs if j.X_val is not None]
        y_vals = [j.y_val for j in jobs if j.y_val is not None]
        if len(X_vals) != len(jobs) or len(y_vals) != len(jobs):
            raise ValueError("jobs of one stack all have validation data or none")
        X_val, val_per_net = _stacked(X_vals, "X_val")
        y_val, yv_per_net = _stacked(y_vals, "y_val")
        if val_per_net != yv_per_net:
            X_val, y_val = np.stack(X_vals), np.stack(y_vals)
            val_per_net = True
    job0 = jobs[0]
    order = sorted(range(len(jobs)), key=lambda k: group_key(opts[k], pens[k]))
    run = Run(
        net, models, order, opts, pens, stops, [j.mask_rng for j in jobs],
        [j.batch_rng for j in jobs], job0.n_steps, job0.eval_every,
        [j.checkpoints for j in jobs], write_back=len({id(o) for o in opts}) == len(opts),
    )  # fmt: skip
    return run.loop(
        X, y, per_net, X_val, y_val, val_per_net, has_val, job0.batch_size,
        job0.mask_average, job0.diverge_factor, on_divergence,
    )  # fmt: skip
