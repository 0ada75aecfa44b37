"""Early stopping / convergence rule of training.train (STUDY.md "Training budgets")."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.nn import stack_run
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD
from dropout_study.nn.training import EarlyStopping, train


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


# ---------------------------------------------------------------------------------------------
# synthetic validation-loss curves: the rule itself, independent of any network
# ---------------------------------------------------------------------------------------------
class _ScriptedLoss:
    """Stands in for the stacked heads' evaluation (``stack_run.eval_loss_acc``): the
    validation loss (evaluations on ``n_val`` rows) follows a script, the rest is computed."""

    def __init__(self, real, curve, n_val):
        self._real, self._curve, self._n_val, self.calls = real, list(curve), n_val, 0

    def __call__(self, head, z, y):
        loss, acc = self._real(head, z, y)
        if z.shape[1] != self._n_val:
            return loss, acc
        loss = np.full(z.shape[0], self._curve[min(self.calls, len(self._curve) - 1)])
        self.calls += 1
        return loss, acc


def _scripted_run(curve, *, patience, min_delta=0.0, eval_every=5, n_steps=None):
    X, y = _data(0, 60)
    Xv, yv = _data(1, 23)
    n_steps = n_steps or eval_every * (len(curve) - 1)
    stop = EarlyStopping(patience=patience, min_delta=min_delta)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stack_run, "eval_loss_acc", _ScriptedLoss(stack_run.eval_loss_acc, curve, 23))
        return train(_model(), X, y, optimizer=SGD(lr=0.1), n_steps=n_steps, X_val=Xv,
                     y_val=yv, eval_every=eval_every, stop=stop)  # fmt: skip


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_stops_exactly_patience_evaluations_after_the_best(patience):
    curve = [5.0, 4.0, 3.0, 2.0, 1.0] + [1.5] * 20  # best at evaluation 4, flat after
    h = _scripted_run(curve, patience=patience)
    assert h.best_step == 4 * 5
    assert h.stopped_at == (4 + patience) * 5 and not h.capped
    np.testing.assert_array_equal(h.val_loss, curve[: 4 + patience + 1])


def test_improvements_below_min_delta_do_not_count():
    curve = [1.0, 0.5, 0.4999, 0.4998, 0.4997, 0.4996, 0.4995] + [0.4995] * 10
    h = _scripted_run(curve, patience=3, min_delta=1e-3)
    assert h.best_step == 5 and h.stopped_at == 4 * 5  # 0.5 at eval 1; three small steps
    h0 = _scripted_run(curve, patience=3, min_delta=0.0)
    assert h0.best_step == 6 * 5  # without min_delta every small step counts


def test_capped_runs_are_counted():
    curves = {
        "still falling": list(np.linspace(2.0, 1.0, 12)),
        "stops": [2.0, 1.0] + [1.2] * 10,
        "late best": [2.0, 1.9, 1.8, 1.0] + [1.1] * 8,
        "falls slowly": [2.0 - 0.01 * k for k in range(12)],
    }
    runs = {k: _scripted_run(c, patience=4, n_steps=55) for k, c in curves.items()}
    capped = sorted(k for k, h in runs.items() if h.capped)
    assert capped == ["falls slowly", "still falling"]
    for k in capped:
        assert runs[k].stopped_at == 55 and runs[k].step_loss.shape == (55,)
    assert runs["stops"].stopped_at == (1 + 4) * 5
    assert runs["late best"].stopped_at == (3 + 4) * 5


def test_a_huge_cap_costs_no_memory_until_used():
    """With a stopping rule the step cap only bounds the loop: the history grows as needed
    (a cap of 10⁹ steps would need 8 GB per array if allocated up front)."""
    X, y = _data()
    Xv, yv = _data(1, 40)
    h = train(
        _model(),
        X,
        y,
        optimizer=SGD(lr=2.0),
        n_steps=10**9,
        X_val=Xv,
        y_val=yv,
        stop=EarlyStopping(patience=3, min_delta=0.0),
    )
    assert not h.capped and h.stopped_at < 5000
    assert h.step_loss.shape == (h.stopped_at,) and h.eval_step.shape == h.val_loss.shape
    assert np.all(np.diff(h.eval_step) == 1) and np.all(np.isfinite(h.val_loss))
