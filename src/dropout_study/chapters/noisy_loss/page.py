"""What chapter 3's page shows besides its figures: small MyST tables of numbers per setting
(per p, per K, per data set) and the texts glued into its prose, all made from the metrics and
the findings of the run (STUDY.md: lists of numbers go into tables, not sentences; every
number and direction word in prose is glued).

Every function is pure: metrics in, MyST (``{glue:md}``) or plain text out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dropout_study.chapters.noisy_loss import alternatives, answer, evidence
from dropout_study.chapters.noisy_loss.verdict import robustness
from dropout_study.chapters.wording import (
    interval_text,
    list_table,
    margin_text,
    outcome_words,
    table_markdown,
)
from dropout_study.numfmt import general, plain, significant

__all__ = [
    "list_table",
    "clock_table",
    "control_table",
    "noise_table",
    "levels_table",
    "best_lr_table",
    "power_table",
    "power_text",
    "sensitivity_table",
    "primary_table",
    "reference_text",
    "seed_table",
    "loo_text",
    "reestimate_table",
    "left_text",
    "slower_steps_text",
    "FIRST_STEPS",
    "first_steps_text",
]

FIRST_STEPS = evidence.FIRST_STEPS


def _steps(v) -> str:
    return "not reached" if v is None or (isinstance(v, float) and math.isnan(v)) else plain(v, 1)


def _geo(values) -> str:
    v = [x for x in values if x is not None and x > 0 and math.isfinite(x)]
    return plain(math.exp(sum(math.log(x) for x in v) / len(v)), 2) + "×" if v else "—"


def clock_table(m: Mapping, d: str) -> str:
    """Per p on data set ``d``, the primary clock: median time to the target, RMST, runs
    censored, and the geometric mean of the per-seed ratios to p = 0."""
    c = m["by_dataset"][d]["clock"]["primary"]
    rows = []
    for j, p in enumerate(m["dropout_rates"]):
        ratio = "1 (reference)" if p == 0 else _geo(c["by_rate"][f"{p:g}"]["values"])
        rows.append(
            [
                general(p),
                f"{_steps(c['median'][j])} / {_steps(c['rmst'][j])}",
                f"{c['censored'][j]} of {c['n_reference']}",
                ratio,
            ]
        )
    head = ["p", "median / RMST (steps)", "censored", "time ratio to p = 0"]
    return list_table(head, rows, [10, 34, 22, 34])


def control_table(m: Mapping) -> str:
    """Per arm of the control (p = 0, then K = 1 … K_max at the control rate) on the first
    control data set: median time and RMST, runs censored, mean early-stopped validation
    loss."""
    d = m["control_datasets"][0]
    c = m["by_dataset"][d]["clock"]["primary"]
    v = m["control"][d]["variants"]["primary"]
    best = m["control"][d]["best_mean"]["mean"]
    j0 = m["dropout_rates"].index(0.0)
    lv = m["by_dataset"][d]["levels"]["best_mean"]["mean"]
    n = c["n_reference"]
    rows = [["p = 0", f"{_steps(c['median'][j0])} / {_steps(c['rmst'][j0])}",
             f"{c['censored'][j0]} of {n}", plain(lv[j0], 3)]]  # fmt: skip
    cr = general(m["control_rate"])
    for i, k in enumerate(m["control_ks"]):
        rows.append([f"p = {cr}, K = {k}", f"{_steps(v['median'][i])} / {_steps(v['rmst'][i])}",
                     f"{v['censored'][i]} of {n}", plain(best[i], 3)])  # fmt: skip
    head = ["arm", "median / RMST (steps)", "censored", "early-stopped val. loss (nats)"]
    return list_table(head, rows, [24, 28, 18, 30])


def noise_table(m: Mapping) -> str:
    """Per p > 0 and data set: the loss spread across masks at α = 0 (nats, mean over seeds)
    and the median gradient SNR at the first and the last checkpoint."""
    first, last = m["checkpoints"][0], m["checkpoints"][-1]
    head = ["p", *[f"{evidence.NAMES.get(d, d)}: spread · SNR at {first} / {last}"
                   for d in m["datasets"]]]  # fmt: skip
    rows = []
    for j, p in enumerate(m["dropout_rates"]):
        if p == 0:
            continue
        row = [general(p)]
        for d in m["datasets"]:
            nz = m["by_dataset"][d]["noise"]
            snr = nz["snr_median"]
            row.append(f"{significant(nz['spread0_mean']['mean'][j])} · "
                       f"{general(snr[0][j], 3)} / {general(snr[-1][j], 3)}")  # fmt: skip
        rows.append(row)
    return list_table(head, rows, [12, 44, 44])


def levels_table(m: Mapping) -> str:
    """Per p and data set: the mean early-stopped and final validation loss (nats)."""
    head = ["p", *[f"{evidence.NAMES.get(d, d)}: early-stopped / final" for d in m["datasets"]]]
    rows = []
    for j, p in enumerate(m["dropout_rates"]):
        row = [general(p)]
        for d in m["datasets"]:
            lv = m["by_dataset"][d]["levels"]
            row.append(f"{plain(lv['best_mean']['mean'][j], 3)} / "
                       f"{plain(lv['final_mean']['mean'][j], 3)}")  # fmt: skip
        rows.append(row)
    return list_table(head, rows, [12, 44, 44])


def best_lr_table(m: Mapping) -> str:
    """Per p, the learning rate each data set's best-rate row uses, and the runs that
    diverged per learning rate."""
    head = ["p", *[evidence.NAMES.get(d, d) for d in m["datasets"]]]
    rows = [
        [general(p), *[general(m["by_dataset"][d]["best_lr"][j]) for d in m["datasets"]]]
        for j, p in enumerate(m["dropout_rates"])
    ]
    rows.append(
        [
            "runs diverged (per rate)",
            *[
                ", ".join(f"{n} at {lr}" for lr, n in m["by_dataset"][d]["diverged"].items())
                for d in m["datasets"]
            ],
        ]
    )
    return list_table(head, rows)


def _hw(row: Mapping) -> str:
    f = row["finding"]
    if not math.isfinite(row["half_width"]):
        return "—"
    if f.scale == "log":
        return f"×/÷ {plain(math.exp(row['half_width']), 2)}"
    return f"±{plain(row['half_width'], 2)}"


def power_table(m: Mapping) -> str:
    """Per primary finding: the half-width achieved against the margin, and the seeds — of
    this run, for a decision when it is undecided, and for about 80 % power."""
    rows = []
    for r in evidence.power_rows(m):
        f = r["finding"]
        need = "decided" if r["seeds_needed"] is None else f"≈ {r['seeds_needed']}"
        if not f.applicable:
            need = "not applicable"
        n80 = "—" if r["n80"] is None else f"≈ {r['n80']}"
        seeds = f"{f.n} / {need} / {n80}"
        rows.append([f.name.split(":")[0], f"{_hw(r)} vs {margin_text(f)}", seeds])
    head = ["Finding", "half-width vs margin", "seeds: this run / to decide / 80 % power"]
    return list_table(head, rows, [34, 30, 36])


def power_text(m: Mapping, n_full: int) -> str:
    """MyST: which primary findings this run's seed count gives about 80 % power (for an
    effect of twice the margin, or none), and which it does not; ``n_full``: the seeds of the
    ``full`` profile."""
    rows = evidence.power_rows(m)
    n = m["n_seeds"]
    low = [r for r in rows if r["n80"] is not None and r["n80"] > n]
    if not low:
        return (
            f"With {n} seeds every primary finding has about 80 % power at its margin "
            "(the last column of the table)."
        )
    names = "; ".join(f"{r['finding'].name.split(':')[0]} (≈ {r['n80']} seeds)" for r in low)
    beyond = [r["finding"].name.split(":")[0] for r in low if r["n80"] > n_full]
    full = (
        f"fewer than this estimate asks for {' and '.join(beyond)}"
        if beyond
        else "as many as this estimate asks for each of them, or more"
    )
    return (
        f"With {n} seeds this run is underpowered for {len(low)} of {len(rows)} primary "
        f"findings — {names}: at this seed count a decision needs an effect well beyond twice "
        f"the margin (or none at all). The `full` profile runs {n_full} fresh seeds, {full}. "
        "The estimate uses the spread of this run's per-seed values, so a single unusual seed "
        "(see the seeds an outcome turns on, in the verdict) can raise it a lot."
    )


def sensitivity_table(m: Mapping) -> str:
    """The sensitivity scan: per analysis knob and primary finding, how far the estimate
    moves in half-widths of the primary's interval (every knob scanned is a row of the
    robustness table)."""
    rows = []
    for r in alternatives.sensitivity(m):
        shift = r["shift"]
        text = "∞ (zero-width interval)" if math.isinf(shift) else plain(shift, 2)
        moved = interval_text(r["alternative"], [r["primary"]])
        rows.append([r["knob"], r["primary"].name.split(":")[0], moved, text])
    head = ["Knob", "primary finding", "estimate under it", "moved (half-widths)"]
    return list_table(head, rows, [34, 24, 24, 18])


def primary_table(m: Mapping) -> str:
    """The findings table of the primary findings only (the page lists every finding at its
    end, :func:`dropout_study.book.report.finish`'s ``findings_table``)."""
    return table_markdown(evidence.flatten(evidence.primary(m)))


def reference_text(m: Mapping) -> str:
    """Per data set: the seeds without a reference (their p = 0 run improved too little),
    the median p = 0 time to the target and the budget as a multiple of it."""
    parts = []
    for d in m["datasets"]:
        c = m["by_dataset"][d]["clock"]["primary"]
        med = c["p0_median"]
        mult = "—" if not med else plain(c["budget"] / med, 1)
        parts.append(
            f"{evidence.NAMES.get(d, d)}: {m['n_seeds'] - c['n_reference']} of {m['n_seeds']} "
            f"seeds without a reference, median p = 0 time {_steps(med)} steps, budget "
            f"{mult} × that"
        )
    return "; ".join(parts) + "."


def outcome_text(f) -> str:
    """Finding ``f`` as the prose shows it (:func:`~dropout_study.chapters.wording.interval_text`:
    ``ρ = 0.580 [0.367, 0.783]`` for a trend, ``2.42× [1.199, 4.87]`` for a ratio, whose bounds
    never read as its margin), then its outcome in words."""
    if not math.isfinite(f.estimate):
        return f"undefined, {outcome_words(f)}"
    text = interval_text(f) if f.scale == "log" else f"ρ = {interval_text(f)}"
    return f"{text}, {outcome_words(f)}"


def seed_table(m: Mapping) -> str:
    """Per seed (replicate, 0-based) and data set, on the primary clock: the target (nats),
    the time of the p = 0 run and of the p = control-rate run (steps; "not reached" when
    censored) and their ratio of restricted times — the values the slower finding averages."""
    cr = general(m["control_rate"])
    j0, jc = m["dropout_rates"].index(0.0), m["dropout_rates"].index(m["control_rate"])
    head = ["seed", *[f"{evidence.NAMES.get(d, d)}: target · p = 0 → p = {cr} · ratio"
                      for d in m["datasets"]]]  # fmt: skip
    cols = {}
    for d in m["datasets"]:
        c = m["by_dataset"][d]["clock"]["primary"]
        ratios = dict(zip(evidence.seed_ids(m, d), c["slower"]["values"], strict=True))
        cols[d] = (c, ratios)
    rows = []
    for s in range(m["n_seeds"]):
        row = [str(s)]
        for d in m["datasets"]:
            c, ratios = cols[d]
            if s not in ratios:
                row.append("no reference")
                continue
            t = c["times"][s]
            row.append(f"{plain(c['targets'][s], 3)} · {_steps(t[j0])} → {_steps(t[jc])} · "
                       f"{plain(ratios[s], 2)}×")  # fmt: skip
        rows.append(row)
    return list_table(head, rows, [10, 45, 45])


def loo_text(m: Mapping) -> str:
    """Which primary findings turn on one seed (each seed left out in turn, the finding
    re-decided by the kit), in words; the finding's name and its outcome without that seed."""
    notes = []
    for e in evidence.leave_one_out(m):
        text = answer.turns_on(e)
        if text:
            notes.append(f"{e['finding'].name.split(':')[0]} ({outcome_words(e['finding'])}): "
                         f"{text}")  # fmt: skip
    if not notes:
        return (
            "No primary finding's outcome turns on one seed: leaving out any one seed "
            "leaves every outcome as it is."
        )
    return "Leaving out each seed in turn: " + "; ".join(notes) + "."


def reestimate_table(m: Mapping) -> str:
    """Per primary finding: how many counted rows of the robustness table re-estimate it
    and how they came out, and how many such rows are not applicable (the rest of the rows
    leave it as it is). A row the robustness table does not count (e.g. fixed by the rule) is
    not applicable here too."""
    uncounted = {a.choice for a in robustness(m).alternatives if not a.applicable}
    rows = []
    for e in alternatives.reestimates(m, uncounted):
        f = e["finding"]
        outs: dict[str, int] = {}
        for _, g in e["counted"]:
            outs[outcome_words(g)] = outs.get(outcome_words(g), 0) + 1
        came = "; ".join(f"{n} {w}" for w, n in outs.items()) or "—"
        rows.append([f.name.split(":")[0], outcome_words(f), str(len(e["counted"])), came,
                     str(e["not_applicable"])])  # fmt: skip
    head = ["Primary finding", "outcome", "rows re-estimating it", "their outcomes",
            "not applicable"]  # fmt: skip
    return list_table(head, rows, [24, 20, 14, 30, 12])


def left_text(m: Mapping) -> str:
    """Why *what is left* can be decided when *slower* is not, on the control data set: per
    seed, slower = (what is left) × (noise speeds it up), so the geometric means multiply
    too; the direction of the noise ratio in this run, in words from its estimate."""
    found = evidence.primary(m)
    cd = m["control_datasets"][0]
    k = m["control_ks"][-1]
    noise, left, slow = found["noise"], found["left"], found["slower"][cd]
    if noise.estimate < 1:
        how = f"K = {k} took longer than K = 1 (noise speeds it up {plain(noise.estimate, 3)}×)"
        moved = "above"
    elif noise.estimate > 1:
        how = f"K = {k} took less time than K = 1 (noise speeds it up {plain(noise.estimate, 3)}×)"
        moved = "below"
    else:
        how, moved = f"K = {k} and K = 1 took the same time", "at"
    return (
        f"On {evidence.NAMES.get(cd, cd)} {how}, so what is left "
        f"({plain(left.estimate, 2)}×, {outcome_words(left)}) sits {moved} slower "
        f"({plain(slow.estimate, 2)}×, {outcome_words(slow)}), with its own interval."
    )


def slower_steps_text(m: Mapping) -> str:
    """Per data set, the median times behind the time ratio (p = 0 → p = control rate,
    steps) against the budget."""
    cr = general(m["control_rate"])
    each = []
    for d in m["datasets"]:
        a, b = answer.medians(m, d)
        each.append(f"{evidence.NAMES.get(d, d)} {_steps(a)} → {_steps(b)}")
    return (
        f"median steps to the target, p = 0 → p = {cr}: {'; '.join(each)}, "
        f"of a {m['max_steps']}-step budget"
    )


def first_steps_text(m: Mapping) -> str:
    """The clocks (primary and alternatives, per data set) on which some seed's ``p = 0`` run
    met its target in under :data:`FIRST_STEPS` steps, each with its median ``p = 0`` time
    and how many seeds did: their rows are decided and counted as the study's rules stand,
    and a reader should know what they time (markdown, one paragraph)."""
    short = []
    j0 = [float(r) for r in m["dropout_rates"]].index(0.0)
    for d in m["datasets"]:
        for key, rec in m["by_dataset"][d]["clock"].items():
            med = rec.get("p0_median")
            t0 = [row[j0] for row in rec.get("times") or []]
            timed = [t for t in t0 if t is not None and math.isfinite(t)]
            k = sum(t < FIRST_STEPS for t in timed)
            if med is None or not k:
                continue
            what = "the primary clock" if key == "primary" else alternatives.clock_label(m, key)
            short.append(
                f"{what} on {evidence.NAMES.get(d, d)} (median {_steps(med)} steps; "
                f"{k} of {len(timed)} seeds under {FIRST_STEPS})"
            )
    head = (
        f"*Clocks that time the first steps.* A $p = 0$ run that meets its target in under "
        f"{FIRST_STEPS} steps is timed over the opening steps of training only (the study "
        "interpolates crossings so that runs of 5–7 steps are timed without whole-step jumps; "
        "below that, a step or two is a large share of the time). A clock whose *median* "
        f"$p = 0$ time is under {FIRST_STEPS} steps times the first drop of the loss, not a "
        "run: its findings are not applicable and its rows are not counted. A clock with only "
        "some such seeds is decided like any other; read it knowing what those seeds time."
    )
    if not short:
        return head + " In this run, no seed's $p = 0$ run is that short on any clock."
    return head + " Clocks with such seeds in this run: " + "; ".join(short) + "."
