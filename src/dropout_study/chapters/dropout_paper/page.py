"""The strings the ``dropout-paper`` page glues: method texts from the parameters (before the
run), readings and tables from the metrics (after it), the findings tables and the power note.
Every number and every outcome word comes from the run; this module only formats them."""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.dropout_paper import details as dt
from dropout_study.chapters.dropout_paper import paper_findings as pf
from dropout_study.chapters.dropout_paper import tables as tb
from dropout_study.chapters.dropout_paper import verdict as rule
from dropout_study.chapters.findings import NO, REVERSED
from dropout_study.chapters.wording import interval_text, outcome_words, table_markdown
from dropout_study.numfmt import general, plain, sci, shortest

__all__ = [
    "method_texts",
    "readings",
    "tables",
    "finding_lists",
    "findings_table",
    "power_markdown",
    "sensitivity_markdown",
    "words",
]

_PARAMS = (
    "n_seeds", "n_theory_seeds", "n_train", "width", "mc_rate", "pn_units", "pn_interior",
    "baldi_rate", "baldi_masks", "sgd_rate", "sgd_steps", "ridge_masks", "max_steps",
    "wager_masks", "wager_eval_masks", "patience", "eval_every", "mc_repeats",
)  # fmt: skip


def method_texts(params: dict, full: dict | None = None) -> dict[str, str]:
    """Texts that follow from the parameters only (glued before the run)."""
    out = {f"param_{k}": general(params[k]) for k in _PARAMS}
    out["param_mc_q"] = general(1 - params["mc_rate"])
    out["k_max"] = str(params["mc_ks"][-1])
    out["pn_ends"] = f"{general(params['pn_rates'][0])} or {general(params['pn_rates'][-1])}"
    out["sgd_margin"] = general(pf.SGD_MARGIN)
    out["fig8_margin_conv"] = general(pf.FIG8_MARGIN)
    out["theory_margin"] = general(pf.THEORY_RATIO_MARGIN)
    out["full_seed"] = str((full or {}).get("seed", "—"))
    widths = params["baldi_widths"]
    out["baldi_widths_text"] = ", ".join(map(str, widths)) + " units"
    out["baldi_exact_text"] = f"{2 ** widths[0]}"
    paper = (
        f"SGD with learning rate {general(params['paper_lr'])} and momentum "
        f"{general(params['paper_momentum'])}, max-norm c = {general(params['paper_max_norm'])}, "
        f"{params['paper_steps']} steps"
    )
    if params["paper_protocol"]:
        note = f"This run also trains Figs. 9 and 11 under the paper's protocol ({paper})."
    elif full and full.get("paper_protocol"):
        note = (
            f"The paper's protocol ({paper}) runs in the full profile only, where it is one row "
            "of the robustness table; this run does not train it."
        )
    else:
        note = "This run does not train the paper's protocol."
    if params["stopping_alt"]:
        note += (
            f" The networks of Figs. 9a, 11 and 8 are also trained for {params['max_steps']} "
            "steps without early stopping, to measure the stopping rule's effect."
        )
    out["protocol_note"] = note
    return out


def words(f, protocol: str = "in this protocol") -> str:
    """The outcome in words; a contradicted finding says under which protocol."""
    text = outcome_words(f)
    return f"{text}, {protocol}" if f.applicable and f.outcome in (NO, REVERSED) else text


def _power_text(r: dict, unit: str) -> str:
    hw, m = plain(r["half_width"], 3), plain(r["margin"], 3)
    head = f"Power: half-width {hw}{unit} against a margin of {m}{unit} ({r['n']} seeds)"
    if not unit:
        head = f"Power, on the log scale: half-width {hw} against a margin of {m} ({r['n']} seeds)"
    under = r["seeds_80"] is not None and r["seeds_80"] > r["n"]
    if r["seeds_needed"] is not None:
        text = f"; undecided — at this estimate about {r['seeds_needed']} seeds would decide it"
        if under:
            text += (
                f", and 80 % power needs about {r['seeds_80']}: the book profile is underpowered"
            )
        return head + text + " (the full profile's outcome is in the confirmation)."
    if under:
        return head + f"; decided, though 80 % power would take about {r['seeds_80']} seeds."
    return head + "; decided."


def readings(metrics: dict) -> dict[str, str]:
    """Strings the page glues after the run (numbers with intervals, outcome words)."""
    dg, bd, rd = metrics["digits"], metrics["baldi"], metrics["ridge"]
    g = dg["groups"]["main"]
    fixed, train = np.asarray(dg["err_fixed"]), np.asarray(dg["train_err_fixed"])
    prim = pf.paper_findings(metrics)
    power = rule.power_rows(metrics)
    units = {"fig11": " points", "s91": " %", "fig9a": " points", "fig9b": " points",
             "fig8": ""}  # fmt: skip
    out = {
        "n_test": str(g["n_test"]),
        "n_capped": f"{dg['n_capped']} of {dg['n_nets']}",
        "steps_median": f"{dg['steps_median']:z.0f}",
        "ws_err": tb.ci(g["err_ws"], 100),
        "test_err_none": tb.ci(fixed[:, 0], 100),
        "train_err_none": tb.ci(train[:, 0], 100),
        "gamma_ratio": f"{np.max(rd['gamma']) / np.min(rd['gamma']):z.0f}",
        "q1_gap": sci(rd["q1_gap"]),
        "baldi_mc_se": sci(
            max(
                (max(r["mc_se_mean_gap"]) for r in bd["by_width"].values() if not r["exact"]),
                default=0.0,
            )
        ),
        "sgd_excess_last": tb.ci(rd["sgd"]["excess_last"], 100, 3),
        "sgd_wdist": tb.ci(rd["sgd"]["wdist"], 100, 1),
        "act_none": tb.ci(np.asarray(g["mean_act"])[:, 0], 1, 3),
        "act_drop": tb.ci(np.asarray(g["mean_act"])[:, 1], 1, 3),
        "frac_none": tb.ci(np.asarray(g["frac_active"])[:, 0], 100, 1),
        "frac_drop": tb.ci(np.asarray(g["frac_active"])[:, 1], 100, 1),
    }
    for key, (f, _) in prim.items():
        out[f"{key}_interval"] = interval_text(f)
        out[f"{key}_margin"] = shortest(f.stated_margin)
        out[f"{key}_words"] = words(f)
        out[f"{key}_power"] = _power_text(power[key], units[key])
    out["fig11_k_zero"] = dt.k_zero_text(metrics)
    out["fig8_text"] = dt.fig8_text(metrics)
    out["s91_wrong"] = dt.wrong_rate_text(metrics, pf.SGD_MARGIN)
    trend = dt.pn_trend(metrics)
    out["fig9b_shape"] = f"{dt.pn_text(metrics)} ρ(p, error) = {interval_text(trend)}, " + (
        words(trend, "in this protocol")
    )
    controls = [f for f, _ in pf.theory_findings(metrics) if f.name.startswith("Fig. 8 control")]
    out["fig8_control"] = (
        "; ".join(f"{f.name.removeprefix('Fig. 8 control: ')}: {interval_text(f)}, "
                  f"{words(f, 'in this setting')}" for f in controls)
        if controls
        else "this run kept no activations at initialisation"
    )  # fmt: skip
    exact = [bd["by_width"][str(w)] for w in bd["widths"] if bd["by_width"][str(w)]["exact"]]
    out["nwgm_max"] = sci(max(max(r["nwgm_err"]) for r in exact)) if exact else "—"
    out["mean_s_max"] = sci(max(max(r["mean_s_err"]) for r in exact)) if exact else "—"
    checks = [f for f, _ in pf.theory_findings(metrics)]
    pick = {
        "baldi_first_words": "B & S first-order estimate, enumerated layer",
        "baldi_delta_words": "Delta method, enumerated layer",
        "baldi_mid_words": "unsaturated images",
        "baldi_sign_words": "lacks the sign",
        "baldi_agree_words": "classify apart",
    }
    for key, needle in pick.items():
        check = next((c for c in checks if needle in c.name), None)
        out[key] = (
            "—" if check is None else f"{interval_text(check)}, {words(check, 'in this setting')}"
        )
    ex = bd["by_width"][str(bd["widths"][0])]
    out["baldi_mid_share"] = tb.ci(ex["share_mid"], 100, 1)
    stop = next((f for f in checks if f.name.startswith("Stopping rule")), None)
    if stop is None:
        out["stopping_text"] = "The fixed-budget networks were not trained in this run."
    else:
        out["stopping_text"] = (
            f"Early stopping minus no early stopping, test error of the p = 0 network: "
            f"{interval_text(stop)} points — {words(stop, 'in this setting')} at a margin of one "
            "binomial standard error."
        )
    undecided = [pf.LABELS[k] for k, r in power.items() if r["seeds_needed"] is not None]
    out["power_note"] = (
        "Undecided at this profile: " + ", ".join(undecided) + " (see the confirmation below)."
        if undecided
        else "Every primary finding is decided at this profile."
    )
    return out


def tables(metrics: dict) -> dict[str, str]:
    """The small MyST tables of numbers per setting, and the Wager findings' words."""
    out = {
        "rates_table": tb.rates_table(metrics),
        "pn_table": tb.pn_table(metrics),
        "protocol_table": tb.protocol_table(metrics),
        "baldi_table": tb.baldi_table(metrics),
        "wager_table": tb.wager_table(metrics),
        "ridge_table": tb.ridge_table(metrics),
    }
    wager = [f for f, _ in pf.theory_findings(metrics) if f.name.startswith("Wager")]
    out["wager_words"] = (
        "; ".join(
            f"{f.name.removeprefix('Wager et al.: ')} — {interval_text(f)}, "
            f"**{words(f, 'in this setting')}**"
            for f in wager
        )
        + "."
    )
    return out


def finding_lists(metrics: dict) -> tuple[list, list]:
    """``(Srivastava's five primary findings, the theory checks)`` as Finding lists."""
    prim = [f for f, _ in pf.paper_findings(metrics).values()]
    return prim, [f for f, _ in pf.theory_findings(metrics)]


def findings_table(findings) -> str:
    """The kit's findings table (:func:`dropout_study.chapters.wording.table_markdown`)."""
    return table_markdown(findings)


def power_markdown(metrics: dict) -> str:
    return tb.power_table(metrics, rule.power_rows(metrics))


def sensitivity_markdown(metrics: dict) -> str:
    return tb.sensitivity_table(rule.sensitivity(metrics))
