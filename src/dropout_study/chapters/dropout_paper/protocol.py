"""The three training protocols of the ``dropout-paper`` chapter's digits networks.

- ``"laptop"`` (the study's primary): minibatch Adam, early stopping on the validation loss
  (``patience`` evaluations every ``eval_every`` steps, at most ``max_steps``; the best
  parameters restored).
- ``"fixed"`` (the stopping rule's effect): the same Adam, no early stopping, exactly
  ``max_steps`` steps; the last iterate is used.
- ``"paper"`` (Srivastava et al. 2014, §5.1 and Appendix A: "stochastic gradient descent
  with momentum 0.95–0.99", "max-norm regularisation with c = 3–4", long training with no
  early stopping): minibatch SGD with heavy-ball momentum, after every step each hidden unit's
  incoming weight vector projected onto the ball ‖w‖₂ ≤ c
  (:class:`~dropout_study.nn.optim.MaxNorm`), exactly ``paper_steps`` steps; the last iterate
  is used.
"""

from __future__ import annotations

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam, MaxNorm
from dropout_study.nn.training import EarlyStopping, train
from dropout_study.validation import check_choice

__all__ = ["PROTOCOLS", "fit"]

PROTOCOLS = ("laptop", "fixed", "paper")


def fit(c: dict, ds, sizes, p: float, head: str, y_train, y_val, streams):
    """Train one network under ``c["protocol"]`` (module doc) and return ``(model, history)``.

    ``c`` carries ``protocol``, ``lr``, ``max_steps``, ``batch_size``, ``eval_every``,
    ``patience`` and, for ``"paper"``, ``paper_lr``, ``paper_momentum``, ``paper_max_norm``,
    ``paper_steps``; ``ds`` a split data set (``X_train``, ``X_val``); ``streams`` the
    replicate's random streams (``init``, ``masks``, ``batches``)."""
    protocol = check_choice(c.get("protocol", "laptop"), "protocol", "fit", PROTOCOLS)
    model = MLP(sizes, head=head, dropout=p, rng=streams.init)
    common = dict(
        batch_size=c["batch_size"],
        X_val=ds.X_val,
        y_val=y_val,
        mask_rng=streams.masks,
        batch_rng=streams.batches,
    )
    if protocol == "laptop":
        hist = train(
            model,
            ds.X_train,
            y_train,
            optimizer=Adam(c["lr"]),
            n_steps=c["max_steps"],
            eval_every=c["eval_every"],
            stop=EarlyStopping(patience=c["patience"], min_delta=1e-4, monitor="val"),
            **common,
        )
    elif protocol == "fixed":
        n = c["max_steps"]
        hist = train(
            model, ds.X_train, y_train, optimizer=Adam(c["lr"]), n_steps=n, eval_every=n, **common
        )
    else:
        n = c["paper_steps"]
        opt = MaxNorm(SGD(c["paper_lr"], momentum=c["paper_momentum"]), c["paper_max_norm"])
        hist = train(model, ds.X_train, y_train, optimizer=opt, n_steps=n, eval_every=n, **common)
    return model, hist
