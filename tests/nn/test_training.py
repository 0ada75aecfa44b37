"""The training loop: what it records, its streams, determinism, penalties, divergence."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.penalties import L1, L2
from dropout_study.nn.training import History, TrainingDiverged, train
from dropout_study.seeds import streams


def data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int)
    return X, y


def net(p=0.3, seed=0, **kw):
    return MLP([3, 8, 6, 1], dropout=p, rng=streams(seed).init, **kw)


def assert_same_history(a: History, b: History):
    for f in fields(History):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "checkpoints":
            assert va.keys() == vb.keys()
            for k in va:
                np.testing.assert_array_equal(va[k], vb[k])
        else:
            np.testing.assert_array_equal(va, vb, err_msg=f.name)


# ---------------------------------------------------------------------------------------------
# What is recorded (training.py's docstring)
# ---------------------------------------------------------------------------------------------
def test_step_loss_is_the_masked_loss_at_theta_t_and_eval_is_at_theta_t():
    X, y = data()
    model = net(0.4)
    T = 6
    hist = train(
        model,
        X,
        y,
        optimizer=SGD(0.2),
        n_steps=T,
        mask_rng=np.random.default_rng(3),
        checkpoints=range(T + 1),
        penalty=L2(0.01),
        eval_every=2,
    )
    replay = np.random.default_rng(3)
    probe = net(0.4)
    for t in range(T):
        probe.set_params(hist.checkpoints[t])
        masks = probe.draw_masks(X.shape[0], replay)
        j_tm = probe.loss(X, y, training=True, masks=masks)
        assert hist.step_loss[t] == j_tm  # J(θ_t, m_t), bit for bit
        r = L2(0.01).value(probe.weights)
        assert hist.step_objective[t] == pytest.approx(j_tm + r, rel=1e-15)
    np.testing.assert_array_equal(hist.eval_step, [0, 2, 4, 6])
    for j, t in enumerate(hist.eval_step):
        probe.set_params(hist.checkpoints[t])
        assert hist.train_loss[j] == pytest.approx(probe.loss(X, y), rel=1e-15)
        assert hist.train_acc[j] == pytest.approx(probe.accuracy(X, y), rel=1e-15)
        assert hist.penalty[j] == pytest.approx(L2(0.01).value(probe.weights), rel=1e-15)
    np.testing.assert_array_equal(hist.checkpoints[T], model.get_params())
    assert np.all(np.isnan(hist.val_loss)) and hist.n_steps == T


def test_validation_set_and_eval_every_not_dividing_n_steps():
    X, y = data()
    Xv, yv = data(20, seed=1)
    model = net(0.0)
    hist = train(model, X, y, optimizer=Adam(0.01), n_steps=5, eval_every=3, X_val=Xv, y_val=yv)
    np.testing.assert_array_equal(hist.eval_step, [0, 3, 5])
    assert hist.val_loss[-1] == pytest.approx(model.loss(Xv, yv), rel=1e-15)
    assert hist.val_acc[-1] == pytest.approx(model.accuracy(Xv, yv), rel=1e-15)
    assert hist.step_loss.dtype == np.float64 and hist.eval_step.dtype.kind == "i"


def test_full_batch_gradient_descent_without_dropout_lowers_the_loss():
    X, y = data()
    hist = train(net(None), X, y, optimizer=SGD(0.05), n_steps=30)
    assert np.all(np.diff(hist.step_loss) < 0)
    # without dropout, the step loss is the evaluation loss at the same θ_t
    assert hist.step_loss[0] == pytest.approx(hist.train_loss[0], rel=1e-15)


# ---------------------------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------------------------
def test_non_finite_loss_raises_training_diverged_naming_the_step():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)) * 10
    y = rng.standard_normal(20) * 100
    model = MLP([3, 16, 1], head="identity", dropout=None, rng=0)
    with pytest.raises(TrainingDiverged, match=r"at step \d+ of training with SGD\(lr=50") as e:
        train(model, X, y, optimizer=SGD(50.0), n_steps=200)
    assert "try a smaller learning rate (lr=50)" in str(e.value)
    assert isinstance(e.value, FloatingPointError)


# ---------------------------------------------------------------------------------------------
# Streams: masks, minibatch order, common random numbers across p
# ---------------------------------------------------------------------------------------------
def replay_minibatch_training(model, X, y, lr, n_steps, batch_size, batch_seed, mask_seed):
    """The same training written out by hand: permutations from the batches stream, masks
    from the masks stream (via draw_masks), plain SGD."""
    batch_rng, mask_rng = np.random.default_rng(batch_seed), np.random.default_rng(mask_seed)
    n, pos, order = X.shape[0], X.shape[0], None
    for _ in range(n_steps):
        if pos >= n:
            order, pos = batch_rng.permutation(n), 0
        idx = order[pos : pos + batch_size]
        pos += batch_size
        masks = model.draw_masks(idx.size, mask_rng)
        _, g = model.loss_and_grad(X[idx], y[idx], training=True, masks=masks)
        model.set_params(model.get_params() - lr * g)
    return model.get_params()


def test_minibatch_order_comes_from_the_batches_stream():
    X, y = data(23)
    a = net(0.25)
    train(
        a, X, y, optimizer=SGD(0.1), n_steps=9, batch_size=5, batch_rng=11, mask_rng=12
    )  # 23 = 4·5 + 3: the fifth batch of each epoch has 3 samples
    b = replay_minibatch_training(net(0.25), X, y, 0.1, 9, 5, batch_seed=11, mask_seed=12)
    np.testing.assert_allclose(a.get_params(), b, rtol=1e-13, atol=1e-15)
    c = net(0.25)
    train(c, X, y, optimizer=SGD(0.1), n_steps=9, batch_size=5, batch_rng=99, mask_rng=12)
    assert not np.allclose(c.get_params(), b)


def test_runs_differing_only_in_p_share_initial_weights_and_batch_order():
    X, y = data(30)
    s0, s5 = streams(4), streams(4)
    m0 = MLP([3, 8, 6, 1], dropout=0.0, rng=s0.init)
    m5 = MLP([3, 8, 6, 1], dropout=0.5, rng=s5.init)
    np.testing.assert_array_equal(m0.get_params(), m5.get_params())
    kw = {"optimizer": SGD(0.1), "n_steps": 7, "batch_size": 8}
    train(m0, X, y, mask_rng=s0.masks, batch_rng=s0.batches, **kw)
    train(m5, X, y, mask_rng=s5.masks, batch_rng=s5.batches, **kw)
    # the batches streams were consumed identically (same permutations) ...
    assert s0.batches.bit_generator.state == s5.batches.bit_generator.state
    # ... and the p = 0.5 run is exactly the hand-written replay with those batches
    s = streams(4)
    replay = replay_minibatch_training(
        MLP([3, 8, 6, 1], dropout=0.5, rng=s.init), X, y, 0.1, 7, 8, s.batches, s.masks
    )
    np.testing.assert_allclose(m5.get_params(), replay, rtol=1e-13, atol=1e-15)
    assert not np.allclose(m0.get_params(), m5.get_params())


def test_p_zero_trajectory_is_bit_identical_to_no_dropout_layers():
    X, y = data(30)
    Xv, yv = data(10, seed=2)
    hists = []
    for p in (0.0, None):
        s = streams(8)
        model = MLP([3, 8, 6, 1], dropout=p, rng=s.init)
        hists.append(
            train(
                model,
                X,
                y,
                optimizer=SGD(0.1, momentum=0.9),
                n_steps=12,
                batch_size=7,
                batch_rng=s.batches,
                mask_rng=s.masks,
                X_val=Xv,
                y_val=yv,
                # proximal L1 after a momentum step is refused (no defined threshold)
                penalty=L1(0.01, mode="subgradient"),
                checkpoints=[0, 5, 12],
            )
        )
        hists[-1].final = model.get_params()
    assert_same_history(*hists)
    np.testing.assert_array_equal(hists[0].final, hists[1].final)


def test_same_seed_gives_identical_arrays():
    X, y = data(30)

    def run(seed):
        s = streams(seed)
        model = MLP([3, 8, 6, 1], dropout=0.3, input_dropout=0.1, rng=s.init)
        h = train(
            model,
            X,
            y,
            optimizer=Adam(0.01),
            n_steps=10,
            batch_size=6,
            mask_rng=s.masks,
            batch_rng=s.batches,
            checkpoints=[3],
        )
        return h, model.get_params()

    (h1, p1), (h2, p2), (h3, _) = run(5), run(5), run(6)
    assert_same_history(h1, h2)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(h1.step_loss, h3.step_loss)


# ---------------------------------------------------------------------------------------------
# Penalties in the loop
# ---------------------------------------------------------------------------------------------
def test_proximal_l1_gives_exact_zeros_and_subgradient_does_not():
    X, y = data(60)
    results = {}
    for mode in ("proximal", "subgradient"):
        model = net(None, seed=1)
        train(model, X, y, optimizer=SGD(0.1), n_steps=300, penalty=L1(0.03, mode))
        w = np.concatenate([a.ravel() for a in model.weights])
        results[mode] = (np.mean(w == 0.0), np.mean(np.abs(w) < 1e-3 * np.abs(w).max()))
    exact_prox, _ = results["proximal"]
    exact_sub, near_sub = results["subgradient"]
    assert exact_prox > 0.3, results
    assert exact_sub == 0.0, results  # small oscillating weights, not zeros
    assert near_sub < exact_prox, results
    # biases are never penalised: the proximal run keeps non-zero biases
    assert np.any(model.dense[0].b != 0)


def test_l2_in_the_loop_shrinks_the_weights():
    X, y = data(60)
    norms = []
    for lam in (0.0, 0.1):
        model = net(None, seed=1)
        train(model, X, y, optimizer=SGD(0.1), n_steps=200, penalty=L2(lam))
        norms.append(np.sqrt(sum((w**2).sum() for w in model.weights)))
    assert norms[1] < 0.8 * norms[0]


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
X0, Y0 = data(10)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"model": "mlp"}, TypeError, r"'model' parameter of train must be an MLP; got 'str'"),
        ({"optimizer": "sgd"}, TypeError, r"'optimizer' parameter of train must be an SGD or A"),
        ({"n_steps": 0}, ValueError, r"'n_steps' parameter of train must be an int in the range"),
        ({"n_steps": 2.0}, TypeError, r"'n_steps' parameter of train must be an int"),
        ({"eval_every": 0}, ValueError, r"'eval_every' parameter of train must be an int"),
        ({"batch_size": 0}, ValueError, r"'batch_size' parameter of train must be an int in"),
        ({"batch_size": "4"}, TypeError, r"'batch_size' parameter of train must be an int"),
        ({"X": np.ones((10, 2))}, ValueError, r"'X' parameter of MLP must be an array of shape"),
        ({"y": np.ones(9)}, ValueError, r"'y' parameter of MLP \(sigmoid head\)"),
        ({"X_val": X0}, ValueError, r"'y_val' parameter of train must be given together with"),
        ({"X_val": X0, "y_val": Y0[:3]}, ValueError, r"'y' parameter of MLP"),
        ({"mask_rng": None}, ValueError, r"'mask_rng' parameter of train must be a Generator or"),
        ({"mask_rng": "seed"}, TypeError, r"'mask_rng' parameter of train"),
        (
            {"batch_size": 4, "batch_rng": None},
            ValueError,
            r"'batch_rng' parameter of train must be a Generator or seed for minibatch",
        ),
        ({"batch_size": 4, "batch_rng": -3}, TypeError, r"'batch_rng' parameter of train"),
        ({"checkpoints": [4]}, ValueError, r"'checkpoints' .* int in the range \[0, 3\]; got 4"),
        ({"checkpoints": 2}, TypeError, r"'checkpoints' parameter of train must be an iterable"),
        ({"checkpoints": [1.0]}, TypeError, r"'checkpoints' parameter of train must be an int"),
        ({"penalty": 0.1}, TypeError, r"'penalty' parameter of train must be an L1 or L2"),
    ],
)
def test_train_validation(kwargs, exc, match):
    args = {
        "model": MLP([3, 4, 1], dropout=0.5, rng=0),
        "X": X0,
        "y": Y0,
        "optimizer": SGD(0.1),
        "n_steps": 3,
        "mask_rng": 0,
    } | kwargs
    model, X, y = args.pop("model"), args.pop("X"), args.pop("y")
    before = None if not isinstance(model, MLP) else model.get_params()
    with pytest.raises(exc, match=match):
        train(model, X, y, **args)
    if before is not None:  # rejected before any work: the model is untouched
        np.testing.assert_array_equal(model.get_params(), before)
