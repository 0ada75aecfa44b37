"""The cross-entropy chapter's metrics from its parts: entropies, the worked example, maximum
likelihood, convexity, the hidden layer and calibration, as the verdict and page read them.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.measures.stats import mean_ci


def summarise(params, ent, three, mle, logi, hidden, digits) -> dict:
    """The chapter's JSON-able metrics. Digits: ``val_*`` on half A of the validation split
    (the network's validation data), ``held`` on half B (held out: scored at the step of lowest
    validation CE on A, ``best``, and at the end, before and after temperature scaling), with
    ``per_seed`` lists for the findings."""
    a_best = [d["val_loss"][d["best"]] for d in digits]
    a_end = [d["val_loss"][-1] for d in digits]
    bern, cat = mle["bernoulli"], mle["categorical"]

    def held(point, key):
        return [float(d["held"][point][key]) for d in digits]

    keys = ("ce", "ce_scaled", "temperature", "accuracy", "ece", "overconfidence")
    per_seed = {f"{k}_{pt}": held(pt, k) for k in keys for pt in ("best", "end")}
    ce_end = np.asarray(per_seed["ce_end"])
    return {
        "hampers_bits": {k: v["bits"] for k, v in ent["hampers"].items()},
        "example": ent["example"],
        "three_names": three,
        "mle": {
            "bernoulli_theta_hat": bern["theta_hat"],
            "bernoulli_mean_y": bern["mean_y"],
            "bernoulli_ce_at_mean": bern["ce_at_mean"],
            "bernoulli_nll_over_n": bern["nll_at_mean"] / bern["n"],
            "categorical_max_abs_difference": cat["max_abs_difference"],
            "categorical_ce_min": cat["ce_min"],
            "categorical_entropy_of_freq": cat["entropy_of_freq"],
        },
        "convexity": {
            "feature": params["feature"],
            "grid_half_width": params["grid_half_width"],
            "n_grid": params["n_grid"],
            "logreg_ce_min_curvature": logi["ce_min_curvature"],
            "logreg_ce_scale": logi["ce_scale"],
            "logreg_mse_min_curvature": logi["mse_min_curvature"],
            "logreg_mse_scale": logi["mse_scale"],
            "mlp_width": params["mlp_width"],
            "mlp_min_curvature": [h["min_curvature"] for h in hidden],
            "mlp_scale": [h["scale"] for h in hidden],
            "mlp_midpoint_excess": [h["midpoint_excess"] for h in hidden],
            "mlp_endpoint_difference": [abs(h["cost_b"] - h["cost_a"]) for h in hidden],
        },
        "digits": {
            "n_train": digits[0]["n_train"],
            "n_val": digits[0]["n_val"],
            "n_held": digits[0]["n_held"],
            "prior_entropy_train": digits[0]["prior_entropy_train"],
            "prior_entropy_held": digits[0]["prior_entropy_held"],
            "constant_predictor_ce": digits[0]["constant_predictor_ce"],
            "kl_held_train_prior": digits[0]["kl_held_train_prior"],
            "best_step": mean_ci([d["best_step"] for d in digits]),
            "val_ce_best": mean_ci(a_best),
            "val_ce_end": mean_ci(a_end),
            "train_ce_end": mean_ci([d["train_loss"][-1] for d in digits]),
            "held": {k: mean_ci(v) for k, v in per_seed.items()},
            "held_rise": mean_ci(np.subtract(per_seed["ce_end"], per_seed["ce_best"])),
            "held_rise_scaled": mean_ci(
                np.subtract(per_seed["ce_scaled_end"], per_seed["ce_scaled_best"])
            ),
            "held_acc_change": mean_ci(
                np.subtract(per_seed["accuracy_end"], per_seed["accuracy_best"])
            ),
            "n_acc_not_lower": int(
                np.sum(np.asarray(per_seed["accuracy_end"]) >= per_seed["accuracy_best"])
            ),
            "geometric_mean_probability_end": mean_ci(np.exp(-ce_end)),
            "baseline_geometric_mean_probability": math.exp(-digits[0]["constant_predictor_ce"]),
            "perplexity_end": mean_ci(np.exp(ce_end)),
            "bits_end": mean_ci(ce_end / math.log(2)),
            "per_seed": per_seed,
        },
        "n_seeds": params["n_seeds"],
    }
