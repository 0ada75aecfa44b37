"""Stacked training (dropout_study.nn.stack): against training.train, and stack-independence.

Oracle: :func:`dropout_study.training.train` on each network alone, with the same initial
weights and the same mask and batch streams. The issue's contract is equality to 1e-12 relative
over the first 10 steps; the stacked path today matches ``train`` bit for bit, which the
longer tests assert (if only they fail, ``train`` and the stack have drifted apart).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.penalties import L1, L2
from dropout_study.nn.stack import train_stack
from dropout_study.nn.stack_layers import StackedMLP, _Drop
from dropout_study.nn.training import EarlyStopping, History, TrainingDiverged, train


def data(head="sigmoid", n=90, d=3, seed=0, k=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    score = X[:, 0] + 0.7 * X[:, 1] ** 2 - 0.5
    if head == "sigmoid":
        y = (score + 0.3 * rng.standard_normal(n) > 0).astype(int)
    elif head == "softmax":
        y = np.digitize(score, [-0.5, 0.5]) % k
    else:
        y = np.column_stack([score, np.sin(X[:, 2])])
    return X, y


def net(c):
    return MLP(
        c.get("sizes", [3, 12, 8, 1]),
        activation=c.get("act", "relu"),
        head=c.get("head", "sigmoid"),
        dropout=c.get("p", 0.3),
        input_dropout=c.get("pin", 0.0),
        rng=c.get("seed", 0),
        dtype=c.get("dtype", np.float64),
    )


def optimizer(c):
    if c.get("opt", "adam") == "adam":
        return Adam(c.get("lr", 0.01))
    return SGD(c.get("lr", 0.1), momentum=c.get("mu", 0.0))


def streams(c):
    s = c.get("seed", 0)
    return np.random.default_rng(1000 + s), np.random.default_rng(2000 + s)


def alone(c, X, y, **kw):
    model = net(c)
    mask_rng, batch_rng = streams(c)
    hist = train(
        model, X, y, optimizer=optimizer(c), penalty=c.get("pen"), stop=c.get("stop"),
        mask_rng=mask_rng, batch_rng=batch_rng, **kw,
    )  # fmt: skip
    return model, hist


def stacked(cs, X, y, **kw):
    models = [net(c) for c in cs]
    pairs = [streams(c) for c in cs]
    hists = train_stack(
        models, X, y, optimizers=[optimizer(c) for c in cs], penalties=[c.get("pen") for c in cs],
        stops=[c.get("stop") for c in cs], mask_rngs=[p[0] for p in pairs],
        batch_rngs=[p[1] for p in pairs], **kw,
    )  # fmt: skip
    return models, hists


def assert_bits(a, b, what=""):
    """Equal bit for bit (``array_equal`` would let -0.0 equal 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert a.tobytes() == b.tobytes(), f"{what}: {np.flatnonzero(a != b)[:5]} differ"


def assert_identical(a: History, b: History, what=""):
    for f in fields(History):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "checkpoints":
            assert va.keys() == vb.keys(), what
            for t in va:
                assert_bits(va[t], vb[t], f"{what} θ_{t}")
        else:
            assert_bits(va, vb, f"{what} {f.name}")


# Stacks of one kind of optimiser whose networks differ in rate, seed, lr and penalty; each
# case is a list of network configurations (the first is the one compared most closely).
CASES = {
    "sgd full-batch, no penalty": [{"opt": "sgd", "p": p, "seed": s} for p, s in
                                   [(0.3, 0), (0.0, 1), (0.5, 2)]],
    "sgd minibatch, L2": [{"opt": "sgd", "pen": L2(lam), "p": 0.2, "seed": s} for lam, s in
                          [(1e-2, 0), (1e-3, 1), (0.0, 2)]],
    "sgd momentum, L1 sub-gradient": [{"opt": "sgd", "mu": 0.9, "lr": 0.05, "seed": s,
                                       "pen": L1(1e-3, "subgradient")} for s in range(3)],
    "sgd, L1 proximal": [{"opt": "sgd", "pen": L1(lam), "seed": s, "p": 0.1} for lam, s in
                         [(1e-2, 0), (3e-3, 1), (1e-2, 2)]],
    "adam, L1 scaled proximal": [{"pen": L1(lam, "scaled_proximal"), "seed": s, "lr": lr}
                                 for lam, s, lr in [(1e-3, 0, 0.01), (1e-2, 1, 0.02)]],
    "adam, L2 and none, no dropout": [{"pen": pen, "p": None, "seed": s} for pen, s in
                                      [(L2(1e-2), 0), (None, 1), (L2(1e-3), 2)]],
    "adam, mixed penalties": [{"pen": pen, "seed": s} for pen, s in
                              [(L1(1e-3, "subgradient"), 0), (None, 1), (L2(1e-3), 2),
                               (L1(1e-3, "scaled_proximal"), 3)]],
    "tanh, float32": [{"act": "tanh", "dtype": np.float32, "p": p, "seed": s}
                      for p, s in [(0.3, 0), (0.1, 1)]],
    "softmax, input dropout": [{"head": "softmax", "sizes": [3, 10, 3], "pin": pin, "seed": s}
                               for pin, s in [(0.2, 0), (0.0, 1)]],
    "identity, float32": [{"head": "identity", "sizes": [3, 10, 6, 2], "dtype": np.float32,
                           "seed": s, "p": 0.25, "opt": "sgd", "lr": 0.02} for s in range(2)],
}  # fmt: skip
BATCH = {"sgd full-batch, no penalty": None, "sgd, L1 proximal": None}


@pytest.mark.parametrize("name", CASES)
def test_first_ten_steps_equal_train_to_1e_12(name):
    cs = CASES[name]
    X, y = data(cs[0].get("head", "sigmoid"))
    kw = dict(n_steps=10, batch_size=BATCH.get(name, 32), checkpoints=range(11))
    models, hists = stacked(cs, X, y, **kw)
    for c, model, hist in zip(cs, models, hists, strict=True):
        ref_model, ref = alone(c, X, y, **kw)
        for t in range(11):
            np.testing.assert_allclose(
                hist.checkpoints[t], ref.checkpoints[t], rtol=1e-12, atol=0, err_msg=f"θ_{t}"
            )
        np.testing.assert_allclose(hist.step_loss, ref.step_loss, rtol=1e-12, atol=0)
        np.testing.assert_allclose(model.get_params(), ref_model.get_params(), rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_whole_run_is_bit_identical_to_train(name):
    cs = CASES[name]
    X, y = data(cs[0].get("head", "sigmoid"))
    Xv, yv = data(cs[0].get("head", "sigmoid"), n=40, seed=1)
    kw = dict(n_steps=60, batch_size=BATCH.get(name, 32), X_val=Xv, y_val=yv, eval_every=7)
    kw["checkpoints"] = [0, 13, 60]
    models, hists = stacked(cs, X, y, **kw)
    for c, model, hist in zip(cs, models, hists, strict=True):
        ref_model, ref = alone(c, X, y, **kw)
        assert_identical(hist, ref, name)
        assert_bits(model.get_params(), ref_model.get_params(), "θ")
        assert_bits(model.get_grads(), ref_model.get_grads(), "gradient")


def neighbours(n, seed, opt="adam"):
    """``n`` networks of the target's architecture, all different from it and each other."""
    rng = np.random.default_rng(seed)
    pens = {
        "adam": [None, L2(1e-3), L1(1e-3, "subgradient"), L1(3e-3, "scaled_proximal")],
        "sgd": [None, L2(1e-2), L1(1e-3), L1(1e-3, "subgradient")],
    }[opt]
    out = []
    for i in range(n):
        c = {"opt": opt, "seed": 10 + int(rng.integers(1000)), "pen": pens[i % 4]}
        c["p"] = [0.0, 0.1, 0.25, 0.5, 1 / 3][int(rng.integers(5))]
        c["lr"] = float(rng.choice([0.005, 0.01, 0.03] if opt == "adam" else [0.05, 0.1, 0.2]))
        if i % 3:
            c["stop"] = EarlyStopping(int(rng.integers(1, 5)), 1e-4, monitor="val")
        out.append(c)
    return out


@pytest.mark.parametrize(
    "target",
    [
        {"p": 0.1, "seed": 5, "pen": L1(1e-3, "scaled_proximal")},
        {"p": 0.5, "seed": 6, "stop": EarlyStopping(3, 1e-4, monitor="val")},
        {"opt": "sgd", "p": 0.3, "seed": 7, "pen": L1(2e-3), "lr": 0.1},
        {"opt": "sgd", "mu": 0.9, "lr": 0.05, "p": 0.2, "seed": 8, "dtype": np.float32},
    ],
    ids=["adam-scaled-prox", "adam-stopping", "sgd-prox", "sgd-momentum-float32"],
)
def test_a_network_is_bit_identical_in_stacks_of_1_7_and_64(target):
    X, y = data()
    Xv, yv = data(n=40, seed=1)
    kw = dict(n_steps=120, batch_size=32, X_val=Xv, y_val=yv, eval_every=5, checkpoints=[40])
    opt = target.get("opt", "adam")
    dtype = target.get("dtype", np.float64)
    others = [{**c, "dtype": dtype} for c in neighbours(63, seed=1, opt=opt)]
    runs = {
        1: [target],
        7: [*others[:3], target, *others[3:6]],
        64: [*others[:40], target, *others[40:]],
    }
    got = {}
    for size, cs in runs.items():
        models, hists = stacked(cs, X, y, **kw)
        i = cs.index(target)
        got[size] = (models[i].get_params(), hists[i])
        stopped = {h.stopped_at for h in hists}
        assert size == 1 or len(stopped) > 1  # neighbours stop at different steps
    for size in (7, 64):
        assert_bits(got[size][0], got[1][0], f"θ in a stack of {size}")
        assert_identical(got[size][1], got[1][1], f"stack of {size}")


def test_early_stopping_on_some_networks_equals_train_and_is_away_from_ties():
    X, y = data(n=120)
    Xv, yv = data(n=60, seed=3)
    rules = [
        EarlyStopping(2, 1e-3),
        None,
        EarlyStopping(4, 1e-4),
        EarlyStopping(6, 0.0),
        None,
        EarlyStopping(3, 1e-3, restore_best=False),
        EarlyStopping(2, 0.0, "train"),
    ]
    cs = [{"seed": s, "p": 0.2, "lr": 0.03, "stop": r} for s, r in enumerate(rules)]  # fmt: skip
    kw = dict(n_steps=400, batch_size=40, X_val=Xv, y_val=yv, eval_every=10)
    models, hists = stacked(cs, X, y, **kw)
    fired = [h.stopped_at for h, r in zip(hists, rules, strict=True) if r is not None]
    assert min(fired) < 400 and len(set(fired)) > 1
    for c, model, hist in zip(cs, models, hists, strict=True):
        ref_model, ref = alone(c, X, y, **kw)
        assert hist.stopped_at == ref.stopped_at and hist.best_step == ref.best_step
        assert_identical(hist, ref)
        assert_bits(model.get_params(), ref_model.get_params())
        rule = c["stop"]
        if rule is None:
            assert hist.stopped_at == 400 and hist.best_step == -1 and not hist.capped
            continue
        # away from ties: no evaluation within 1e-9 nats of its improvement threshold
        loss = hist.val_loss if rule.monitor == "val" else hist.train_loss
        best, gaps = loss[0], []
        for v in loss[1:]:
            gaps.append(abs(v - (best - rule.min_delta)))
            best = min(v, best) if v < best - rule.min_delta else best
        assert min(gaps) > 1e-9, min(gaps)


def test_per_network_data_sets_of_one_shape():
    sets = [data(seed=s) for s in range(3)]
    vals = [data(n=30, seed=10 + s) for s in range(3)]
    cs = [{"seed": s, "p": p} for s, p in enumerate([0.1, 0.5, 0.0])]
    kw = dict(n_steps=40, batch_size=25, eval_every=4)
    X, y = [s[0] for s in sets], [s[1] for s in sets]
    Xv, yv = np.stack([v[0] for v in vals]), np.stack([v[1] for v in vals])
    models, hists = stacked(cs, X, y, X_val=Xv, y_val=yv, **kw)
    for k, c in enumerate(cs):
        ref_model, ref = alone(c, *sets[k], X_val=vals[k][0], y_val=vals[k][1], **kw)
        assert_identical(hists[k], ref)
        assert_bits(models[k].get_params(), ref_model.get_params())


def test_divergence_returned_for_one_network_raised_by_default():
    X, y = data()
    cs = [{"seed": 0, "lr": 0.01}, {"seed": 1, "lr": 1e6, "opt": "sgd"}, {"seed": 2, "lr": 0.02}]
    cs = [{**c, "opt": "sgd"} for c in cs]
    kw = dict(n_steps=30, batch_size=30)
    models, hists = stacked(cs, X, y, on_divergence="return", **kw)
    assert isinstance(hists[1], TrainingDiverged)
    with pytest.raises(TrainingDiverged) as ref_exc:
        alone(cs[1], X, y, **kw)
    assert str(hists[1]) == str(ref_exc.value)
    for k in (0, 2):
        ref_model, ref = alone(cs[k], X, y, **kw)
        assert_identical(hists[k], ref)
    with pytest.raises(TrainingDiverged, match="Network 1 of the stack: The loss"):
        stacked(cs, X, y, **kw)
    with pytest.raises(TrainingDiverged) as alone_exc:  # a stack of one raises as train does
        stacked(cs[1:2], X, y, **kw)
    assert str(alone_exc.value) == str(ref_exc.value)


@pytest.mark.parametrize("p", [0.5, 0.25, 0.1, 1 / 3, 1e-6, 0.9999])
def test_stacked_masks_are_keep_mask_from_each_network_s_own_stream(p):
    models = [net({"p": p, "seed": 0}), net({"p": 0.0}), net({"p": 0.5, "pin": 0.2})]
    stack = StackedMLP(models)
    stack.mask_rngs = [np.random.default_rng(s) for s in (7, 8, 9)]
    refs = [np.random.default_rng(s) for s in (7, 8, 9)]
    drops = [_Drop(stack, j, 0, 3, 50, 3) for j in range(stack.rates.shape[1])]
    for _ in range(3):
        for d in drops:
            d.draw()
        masks = [d.keep[:, :, :-1].copy() for d in drops]  # without the column of ones
        for k, m in enumerate(models):
            expect = [x for x in m.draw_masks(50, refs[k])]
            got = [masks[j][k] for j in range(len(masks)) if stack.rates[k, j] > 0]
            assert len(got) == len([e for e in expect if e is not None])
            for g, e in zip(got, [e for e in expect if e is not None], strict=True):
                np.testing.assert_array_equal(g, e)
    for g, r in zip(stack.mask_rngs, refs, strict=True):
        assert g.bit_generator.state == r.bit_generator.state


def test_matmul_on_stacks_is_one_blas_call_per_slice():
    """What bit-identity rests on: a stacked product equals each slice's own product, and the
    transposes the layers use (``hᵀ dZ``, ``dZ Wᵀ``) likewise, bit for bit."""
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for B, d, h in [(64, 2, 32), (64, 32, 1), (33, 30, 32), (600, 64, 128), (32, 128, 10)]:
            A, W = rng.standard_normal((9, B, d)).astype(dtype), rng.standard_normal((9, d, h))
            W, G = W.astype(dtype), rng.standard_normal((9, B, h)).astype(dtype)
            out, dW = np.matmul(A, W), np.matmul(A.transpose(0, 2, 1), G)
            dA = np.matmul(G, W.transpose(0, 2, 1))
            for k in range(9):
                assert_bits(out[k], A[k] @ W[k].copy())
                assert_bits(dW[k], A[k].T @ G[k])
                assert_bits(dA[k], G[k] @ W[k].copy().T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_padded_outer_product_is_numpy_s_outer_product(dtype):
    """``(n, 1) @ (1, w)`` (``dZ Wᵀ`` below a one-unit layer), which ``train`` computes with
    numpy's own loop, equals the stack's BLAS product of zero-padded operands bit for bit,
    signed zeros, infinities, NaN and subnormals included."""
    rng = np.random.default_rng(1)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310, 1e300, -1e-300]
    with np.errstate(all="ignore"):
        g = np.concatenate([rng.standard_normal(55), special]).astype(dtype).reshape(-1, 1)
        w = np.concatenate([rng.standard_normal(23), special]).astype(dtype).reshape(1, -1)
        gp, wp = np.zeros((g.shape[0], 2), dtype), np.zeros((2, w.shape[1]), dtype)
        gp[:, 0], wp[0] = g[:, 0], w[0]
        assert_bits(np.matmul(gp[None], wp[None])[0], g @ w)


def _stepped(opt, n=None):
    """``opt`` after one step on a network's parameters (``n`` of them; default the size of
    ``net({})``'s)."""
    n = net({}).n_params if n is None else n
    opt.step([np.zeros(n)], [np.ones(n)])
    return opt


def bad_call(**changes):
    X, y = data()
    base = dict(
        models=[net({"seed": 0}), net({"seed": 1})], X=X, y=y, optimizers=Adam(0.01),
        n_steps=3, mask_rngs=[1, 2],
    )  # fmt: skip
    base.update(changes)
    models, X, y = base.pop("models"), base.pop("X"), base.pop("y")
    return train_stack(models, X, y, **base)


@pytest.mark.parametrize(
    "changes, exc, match",
    [
        ({"fixed_masks": [[None, None]] * 2, "batch_size": 10}, ValueError,
         "'fixed_masks' parameter of train_stack must be None for minibatch"),
        ({"mask_average": 2, "batch_size": 10}, ValueError,
         "'mask_average' parameter of train_stack must be 1 for minibatch"),
        ({"fixed_masks": [None, None]}, TypeError, "'masks' parameter of MLP"),
        ({"checkpoints": [[1], [2], [3]]}, ValueError, "'checkpoints' .* a list of 2 entries"),
        ({"optimizers": [Adam(0.01), _stepped(Adam(0.01))]}, ValueError, "at one step count"),
        ({"optimizers": _stepped(Adam(0.01), 7)}, ValueError, "'optimizers' .* network's size"),
        ({"optimizers": [Adam(0.01), SGD(0.1)]}, TypeError, "all of one kind"),
        ({"optimizers": [Adam(0.01)]}, ValueError, "a list of 2 entries"),
        ({"penalties": L1(0.1)}, ValueError, "'penalties' .*(network 0)"),
        ({"penalties": [None, L1(0.1, "scaled_proximal")], "optimizers": SGD(0.1)}, ValueError,
         "scaled_proximal' only together with an Adam"),
        ({"mask_rngs": [1, None]}, ValueError, "'mask_rngs' .* each network with dropout"),
        ({"mask_rngs": 1}, TypeError, "'mask_rngs' .* a list of 2"),
        ({"mask_rngs": [np.random.default_rng(0)] * 2}, ValueError, "distinct Generators"),
        ({"batch_size": 10, "batch_rngs": [3, None]}, ValueError, "'batch_rngs'"),
        ({"models": [net({}), net({"sizes": [3, 5, 1]})]}, ValueError, "one architecture"),
        ({"models": [net({}), net({"dtype": np.float32})]}, ValueError, "one architecture"),
        ({"models": net({})}, TypeError, "'models' parameter of train_stack"),
        ({"stops": EarlyStopping()}, ValueError, "monitor='train' when no validation"),
        ({"on_divergence": "ignore"}, ValueError, "'on_divergence'"),
        ({"X": [data()[0], data(n=50)[0]], "y": [data()[1], data(n=50)[1]]}, ValueError,
         "data sets of one shape"),
        ({"checkpoints": [4]}, ValueError, "'checkpoints'"),
    ],
)  # fmt: skip
def test_validation(changes, exc, match):
    with pytest.raises(exc, match=match):
        bad_call(**changes)


def test_a_model_listed_twice_is_refused():
    m = net({})
    with pytest.raises(ValueError, match="distinct MLP objects"):
        train_stack([m, m], *data(), optimizers=Adam(0.01), n_steps=2, mask_rngs=[1, 2])


def test_records_grow_past_their_first_size_under_a_stopping_rule():
    """With a stopping rule the records start at 1024 steps and 256 evaluations and double."""
    X, y = data(n=40)
    rule = EarlyStopping(10_000, 0.0, monitor="train")  # never fires: the cap is hit
    cs = [{"sizes": [3, 4, 1], "seed": s, "p": 0.1, "stop": rule, "lr": 0.001} for s in (0, 1)]
    kw = dict(n_steps=1100, batch_size=16, eval_every=4, checkpoints=[1100])
    models, hists = stacked(cs, X, y, **kw)
    for c, model, hist in zip(cs, models, hists, strict=True):
        ref_model, ref = alone(c, X, y, **kw)
        assert hist.capped and hist.n_steps == 1100 and hist.eval_step.size == 276
        assert_identical(hist, ref)
        assert_bits(model.get_params(), ref_model.get_params())


@pytest.mark.parametrize(
    "cs",
    [
        [{"sizes": [3, 1], "p": None, "seed": s} for s in range(3)],  # no hidden layer
        [{"sizes": [3, 1], "p": None, "pin": pin, "seed": s} for s, pin in enumerate([0.3, 0.0])],
        [{"sizes": [3, 5, 1], "p": p, "pin": 0.1, "seed": s} for s, p in enumerate([0.2, 0.0])],
    ],
    ids=["logistic", "logistic-input-dropout", "input-and-hidden-dropout"],
)
def test_networks_without_hidden_layers_or_with_input_dropout(cs):
    X, y = data()
    kw = dict(n_steps=25, batch_size=20, eval_every=6)
    models, hists = stacked(cs, X, y, **kw)
    for c, model, hist in zip(cs, models, hists, strict=True):
        ref_model, ref = alone(c, X, y, **kw)
        assert_identical(hist, ref)
        assert_bits(model.get_params(), ref_model.get_params())
