"""One cell of the cost-under-dropout sweep (a replicate: its networks, R along training, the
K-mask control, the mask-loss histogram, the pitfall runs) and the measures it uses.
"""

from __future__ import annotations

import time

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.chapters.cost_under_dropout import CHAPTER
from dropout_study.chapters.cost_under_dropout.control import summed_rises, train_window
from dropout_study.measures import dropout_theory as th
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.training import EarlyStopping, TrainingDiverged, train
from dropout_study.validation import (
    check_int,
    fail,
)

__all__ = ["run_cell", "up_fraction", "mask_losses", "last_layer_model", "differences"]


def up_fraction(curve) -> float:
    """Share of consecutive pairs in which ``curve`` went up: ``mean_t [c[t+1] > c[t]]``.

    ``curve``: finite values of shape ``(T,)``, ``T >= 2``. Returns a float in [0, 1].
    """
    c = np.asarray(curve, dtype=float)
    if c.ndim != 1 or c.shape[0] < 2:
        fail("curve", "up_fraction", "a 1-D array of at least 2 values", f"shape {c.shape}")
    if not np.all(np.isfinite(c)):
        fail("curve", "up_fraction", "finite", "an array with NaN or inf")
    return float(np.mean(np.diff(c) > 0))


def mask_losses(model: MLP, X, y, n_masks: int, rng) -> np.ndarray:
    """``J(θ, m_k)`` for ``k = 1..n_masks`` independent mask sets drawn from ``rng``.

    ``model``: an MLP with dropout (its current parameters are ``θ``); ``X`` ``(n, d)``,
    ``y`` its targets. Returns ``(n_masks,)`` float64: the mean data loss over the ``n``
    samples in training mode (nats), one value per mask set.
    """
    n_masks = check_int(n_masks, "n_masks", "mask_losses", low=1)
    return np.array([model.loss(X, y, training=True, rng=rng) for _ in range(n_masks)])


def differences(*pairs) -> int:
    """How many entries differ between the arrays of each pair ``(a, b)`` (same shapes), summed
    over the pairs: 0 exactly when every pair is bit-identical (NaN never equals NaN; a shape
    mismatch counts every entry of the larger array)."""
    total = 0
    for a, b in pairs:
        a, b = np.asarray(a), np.asarray(b)
        total += int(np.sum(a != b)) if a.shape == b.shape else max(a.size, b.size)
    return total


def last_layer_model(sizes, p, head: str, rng) -> MLP:
    """``MLP(sizes)`` with inverted dropout at rate ``p`` on the last hidden layer only
    (identity dropout layers before it); ``p=None`` builds no dropout layers at all."""
    n_hidden = len(sizes) - 2
    rates = None if p is None else [0.0] * (n_hidden - 1) + [float(p)]
    return MLP(list(sizes), head=head, dropout=rates, rng=rng)


def _contribution_check(model: MLP, X, y, rng, n_draws: int = 3) -> float:
    """Largest |network training-mode loss − loss from the contributions| over a few masks."""
    a, b = th.last_layer_contributions(model, X)
    if model.dropout is None:
        raise ValueError("the contribution check needs a model with dropout (last_layer_model)")
    p = model.dropout[-1]
    worst = 0.0
    for _ in range(n_draws):
        masks = model.draw_masks(X.shape[0], rng)
        z = (a * masks[-1]).sum(axis=1) / (1.0 - p) + b
        direct = float(np.mean(th.loss_value(z, y)))
        worst = max(worst, abs(model.loss(X, y, training=True, masks=masks) - direct))
    return worst


def _train(cell, ds, p, optimizer, streams, what, *, stop=True, n_steps=None, checkpoints=()):
    sizes = [ds.n_features, *cell["hidden"], 1]
    model = last_layer_model(sizes, p, ds.head, streams.init)
    rule = EarlyStopping(cell["patience"], cell["min_delta"], monitor="val") if stop else None
    try:
        hist = train(
            model,
            ds.X_train,
            ds.y_train,
            optimizer=optimizer,
            n_steps=n_steps or cell["max_steps"],
            X_val=ds.X_val,
            y_val=ds.y_val,
            eval_every=1,
            mask_rng=streams.masks,
            checkpoints=checkpoints,
            stop=rule,
        )
    except TrainingDiverged as exc:
        raise ValueError(
            f"The '{what}' parameter of {CHAPTER} must be small enough for training not to "
            f"diverge; got {cell[what]!r}."
        ) from exc
    return model, hist


def _r_at(model, X, y, rates, n_masks, rng) -> dict:
    a, b = th.last_layer_contributions(model, X)
    est, se = th.regulariser_mc_rates(a, b, y, rates, n_masks=n_masks, rng=rng)
    s = th.single_drop_slope(a, b, y)
    return {
        "measured": est,
        "se": se,
        "second_order": np.array([th.regulariser_second_order(a, b, y, p) for p in rates]),
        "slope": np.asarray(rates) * s,
    }


def run_cell(cell: dict) -> dict:
    """Train and measure one replicate (see the module docstring); a dict of arrays.

    ``cell`` holds the checked parameters (without ``n_seeds``) plus ``replicate`` (int).
    Deterministic given the cell.
    """
    c0 = time.process_time()
    t0 = time.perf_counter()
    ss = seeds.replicate(cell["seed"], cell["replicate"])
    st = seeds.streams(ss)
    ds = datasets.load(cell["dataset"], rng=st.split)
    if ds.head != "sigmoid":
        fail("dataset", CHAPTER, "a binary data set (one logit)", cell["dataset"])
    X, y = ds.X_train, np.asarray(ds.y_train, dtype=np.float64).ravel()
    rates, prim = cell["dropout_rates"], cell["primary_rate"]
    curve_rates = sorted(set(cell["theory_rates"]) | set(rates[1:]))
    r_rng, ck_rng, hist_rng, check_rng = st.measure.spawn(4)
    out: dict = {"curve_rates": np.asarray(curve_rates), "n_train": int(X.shape[0])}
    models, hists = {}, {}
    for p in rates:
        ck = cell["checkpoints"] if p in (0.0, prim) else ()
        models[p], hists[p] = _train(
            cell, ds, p, SGD(cell["lr"]), seeds.streams(ss), "lr", checkpoints=ck
        )
    j0 = models[0.0].loss(X, y)
    v0 = models[0.0].loss(ds.X_val, ds.y_val)
    out["eval_curve"] = [hists[p].train_loss for p in rates]  # J(θ_t), variable length
    out["train_curve"] = [hists[p].step_loss for p in rates]  # J(θ_t, m_t)
    out["eval_up"] = np.array([up_fraction(c) for c in out["eval_curve"]])
    out["train_up"] = np.array([up_fraction(c) for c in out["train_curve"]])
    out["stopped_at"] = np.array([hists[p].stopped_at for p in rates])
    out["best_step"] = np.array([hists[p].best_step for p in rates])
    out["capped"] = np.array([hists[p].capped for p in rates])
    out["price"] = np.array([models[p].loss(X, y) - j0 for p in rates])
    out["price_val"] = np.array([models[p].loss(ds.X_val, ds.y_val) - v0 for p in rates])
    out["p0_eval_up_steps"] = int(np.sum(np.diff(hists[0.0].train_loss) > 0))
    out["p0_steps"] = int(hists[0.0].stopped_at)

    # exact checks
    n_check = cell["check_steps"]
    pair = []
    for p in (None, 0.0):
        pair.append(
            _train(
                cell, ds, p, SGD(cell["lr"]), seeds.streams(ss), "lr", stop=False, n_steps=n_check
            )
        )
    (plain, plain_hist), (zero, zero_hist) = pair
    out["p0_differences"] = differences(
        (plain_hist.step_loss, zero_hist.step_loss),
        (plain_hist.train_loss, zero_hist.train_loss),
        (plain.get_params(), zero.get_params()),
        (zero_hist.train_loss, hists[0.0].train_loss[: n_check + 1]),
    )
    det = plain.copy()
    det.set_params(models[prim].get_params())
    z_eval = models[prim].forward(X)
    out["eval_differences"] = differences(
        (z_eval, det.forward(X)), (z_eval, models[prim].forward(X, training=False, rng=check_rng))
    )
    out["contribution_diff"] = _contribution_check(models[prim], X, y, check_rng)

    # R at θ*_0 and θ*_primary over the curve rates; at each θ*_p at its own p
    out["at_theta0"] = _r_at(models[0.0], X, y, curve_rates, cell["n_theory_masks"], r_rng)
    out["at_primary"] = _r_at(models[prim], X, y, curve_rates, cell["n_theory_masks"], r_rng)
    own = [_r_at(models[p], X, y, [p], cell["n_theory_masks"], r_rng) for p in rates[1:]]
    out["own"] = {k: np.array([0.0] + [o[k][0] for o in own]) for k in own[0]}

    # R at the primary rate along training (checkpoints), and J there
    for p in (0.0, prim):
        r_vals, j_vals = [], []
        for step in cell["checkpoints"]:
            theta = hists[p].checkpoints.get(step)
            if theta is None:
                r_vals.append(np.nan)
                j_vals.append(np.nan)
                continue
            net = models[p].copy()
            net.set_params(theta)
            a, b = th.last_layer_contributions(net, X)
            est, _ = th.regulariser_mc_rates(
                a, b, y, [prim], n_masks=cell["n_theory_masks"], rng=ck_rng
            )
            r_vals.append(float(est[0]))
            j_vals.append(net.loss(X, y))
        key = "along_p0" if p == 0.0 else "along_primary"
        out[key], out[key.replace("along", "j_along")] = np.array(r_vals), np.array(j_vals)
    out["j_star"] = np.array([models[p].loss(X, y) for p in rates])

    # the K-mask control: plain gradient descent at the primary rate from the run's θ_0 and
    # mask stream, each step averaged over K mask sets, up to where the run stopped
    stop_at = int(hists[prim].stopped_at)
    curves = []
    for k in cell["control_ks"]:
        st_k = seeds.streams(ss)
        net = last_layer_model([ds.n_features, *cell["hidden"], 1], prim, ds.head, st_k.init)
        curves.append(train_window(net, X, y, k=k, lr=cell["lr"], n_steps=stop_at, rng=st_k.masks))
    out["control_curves"] = curves
    out["control_window"] = int(hists[prim].best_step)
    out["control_k1_difference"] = (
        float(np.max(np.abs(curves[0] - hists[prim].train_loss[: stop_at + 1])))
        if cell["control_ks"][0] == 1
        else np.nan
    )

    # alternatives that retrain: the primary rate on other data sets and widths (R and J at θ*_p)
    # and, on the data sets of control_alt_datasets, the control (K = 1 and the largest K over
    # that run's own window)
    alt_r, alt_j, alt_rises = [], [], []
    settings = [(name, cell["hidden"]) for name in cell["alt_datasets"]]
    settings += [(cell["dataset"], [w] * len(cell["hidden"])) for w in cell["alt_widths"]]
    for i, (name, hidden) in enumerate(settings):
        st_a = seeds.streams(ss)
        ds_a = datasets.load(name, rng=st_a.split)
        if ds_a.head != "sigmoid":
            fail("alt_datasets", CHAPTER, "binary data sets (one logit)", name)
        Xa, ya = ds_a.X_train, np.asarray(ds_a.y_train, dtype=np.float64).ravel()
        net, h_a = _train({**cell, "hidden": hidden}, ds_a, prim, SGD(cell["lr"]), st_a, "lr")
        a, b = th.last_layer_contributions(net, Xa)
        est, _ = th.regulariser_mc_rates(
            a, b, ya, [prim], n_masks=cell["n_theory_masks"], rng=r_rng
        )
        alt_r.append(float(est[0]))
        alt_j.append(net.loss(Xa, ya))
        if i < len(cell["alt_datasets"]) and name in cell["control_alt_datasets"]:
            rises = []
            for k in (cell["control_ks"][0], cell["control_ks"][-1]):
                st_k = seeds.streams(ss)
                net = last_layer_model([ds_a.n_features, *hidden, 1], prim, ds_a.head, st_k.init)
                curve = train_window(
                    net, Xa, ya, k=k, lr=cell["lr"], n_steps=int(h_a.best_step), rng=st_k.masks
                )
                rises.append(summed_rises(curve))
            alt_rises.append(rises)
    out["alt_r"], out["alt_j"] = np.array(alt_r), np.array(alt_j)
    out["control_alt_rises"] = np.array(alt_rises).reshape(len(cell["control_alt_datasets"]), 2)

    # the pitfall: p = 0 with a large step and with Adam, a fixed small budget
    pit = {}
    for name, opt, what in (
        ("large_step", SGD(cell["pitfall_lr"]), "pitfall_lr"),
        ("adam", Adam(cell["pitfall_adam_lr"]), "pitfall_adam_lr"),
    ):
        _, h = _train(
            cell, ds, 0.0, opt, seeds.streams(ss), what, stop=False, n_steps=cell["pitfall_steps"]
        )
        pit[name] = h.train_loss
    out["pitfall_curve"] = pit
    out["pitfall_up"] = {k: up_fraction(v) for k, v in pit.items()}
    if cell["replicate"] == 0:
        mp = models[prim]
        out["hist"] = {
            "samples": mask_losses(mp, X, y, cell["n_masks"], hist_rng),
            "eval": mp.loss(X, y),
        }
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0  # this process only (BLAS single-threaded)
    return out
