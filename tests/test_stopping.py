"""Early stopping / convergence rule of training.train (STUDY.md "Training budgets")."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.mlp import MLP
from dropout_study.optim import SGD
from dropout_study.training import EarlyStopping, train


def _data(seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _model(seed=0):
    return MLP([2, 8, 1], rng=seed, dtype=np.float64)


def test_stops_after_patience_without_improvement_and_restores_best():
    X, y = _data()
    Xv, yv = _data(1, 40)
    m = _model()
    stop = EarlyStopping(patience=3, min_delta=0.0)
    h = train(m, X, y, optimizer=SGD(lr=2.0), n_steps=4000, X_val=Xv, y_val=yv, stop=stop)
    # arrays end where training stopped; the best was `patience` evaluations before the end
    assert h.stopped_at == h.eval_step[-1] < 4000 and not h.capped
    assert h.best_step == h.eval_step[-1 - 3]
    best = np.argmin(h.val_loss)
    assert h.eval_step[best] == h.best_step
    assert np.all(h.val_loss[best + 1 :] >= h.val_loss[best])
    # the model is left at the best evaluated parameters
    m2 = _model()
    train(m2, X, y, optimizer=SGD(lr=2.0), n_steps=h.best_step)
    np.testing.assert_array_equal(m.get_params(), m2.get_params())


def test_capped_run_is_flagged():
    X, y = _data()
    h = train(
        _model(),
        X,
        y,
        optimizer=SGD(lr=0.01),
        n_steps=30,
        stop=EarlyStopping(patience=50, monitor="train"),
    )
    assert h.capped and h.stopped_at == 30 and h.step_loss.shape == (30,)


def test_without_rule_history_is_unchanged():
    X, y = _data()
    h = train(_model(), X, y, optimizer=SGD(lr=0.1), n_steps=20)
    assert h.stopped_at == 20 and h.best_step == -1 and not h.capped


def test_invalid_rule_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="'patience' parameter of EarlyStopping"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="'monitor' parameter of EarlyStopping"):
        EarlyStopping(monitor="test")
    with pytest.raises(ValueError, match="'stop' parameter of train"):
        train(_model(), X, y, optimizer=SGD(lr=0.1), n_steps=5, stop=EarlyStopping())
