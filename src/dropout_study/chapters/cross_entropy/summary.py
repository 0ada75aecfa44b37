"""The cross-entropy chapter's metrics from its parts: entropies, the worked example, maximum
likelihood, convexity, the hidden layer and calibration, as the verdict and page read them.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.measures.stats import mean_ci


def overconfidence(rel: dict) -> float:
    """Mean top-label confidence minus accuracy (> 0: over-confident)."""
    return rel["mean_confidence"] - rel["accuracy_overall"]


def summarise(params, ent, three, mle, logi, hidden, digits) -> dict:
    d_best = [d["val_loss"][d["best"]] for d in digits]
    d_end = [d["val_loss"][-1] for d in digits]
    a_best = [d["val_acc"][d["best"]] for d in digits]
    a_end = [d["val_acc"][-1] for d in digits]
    bern, cat = mle["bernoulli"], mle["categorical"]
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
            "prior_entropy_train": digits[0]["prior_entropy_train"],
            "prior_entropy_val": digits[0]["prior_entropy_val"],
            "constant_predictor_ce": digits[0]["constant_predictor_ce"],
            "kl_val_train_prior": digits[0]["kl_val_train_prior"],
            "best_step": mean_ci([d["best_step"] for d in digits]),
            "val_ce_best": mean_ci(d_best),
            "val_ce_end": mean_ci(d_end),
            "val_ce_rise": mean_ci(np.subtract(d_end, d_best)),
            "val_acc_best": mean_ci(a_best),
            "val_acc_end": mean_ci(a_end),
            "val_acc_change": mean_ci(np.subtract(a_end, a_best)),
            "n_acc_not_lower": int(np.sum(np.asarray(a_end) >= np.asarray(a_best))),
            "train_ce_end": mean_ci([d["train_loss"][-1] for d in digits]),
            "overconfidence_best": mean_ci([overconfidence(d["reliability_best"]) for d in digits]),
            "overconfidence_end": mean_ci([overconfidence(d["reliability_end"]) for d in digits]),
            "overconfidence_change": mean_ci(
                [
                    overconfidence(d["reliability_end"]) - overconfidence(d["reliability_best"])
                    for d in digits
                ]
            ),
            "ece_best": mean_ci([d["reliability_best"]["ece"] for d in digits]),
            "ece_end": mean_ci([d["reliability_end"]["ece"] for d in digits]),
            "confidence_end": mean_ci([d["reliability_end"]["mean_confidence"] for d in digits]),
            "perplexity_end": mean_ci(np.exp(d_end)),
            "bits_end": mean_ci(np.asarray(d_end) / math.log(2)),
        },
        "n_seeds": params["n_seeds"],
    }
