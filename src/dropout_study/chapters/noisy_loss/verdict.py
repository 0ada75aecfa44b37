"""The verdict rule of the ``noisy-loss`` chapter (STUDY.md, chapter 3, version 3):
:func:`decide`, :func:`robustness` and :func:`all_findings`.

The claim "dropout makes the loss surface noisier, so training takes longer" has three parts,
each decided from findings (:mod:`dropout_study.chapters.noisy_loss.evidence`; outcomes from
the findings kit, a not-applicable finding counting as inconclusive):

- **noisier** — per data set, the trend ρ(p, loss spread across masks at α = 0) over p > 0
  (margin 0.2): yes on every data set → yes; no trend or reversed on any → no; else
  inconclusive.
- **slower** — per data set, the ratio of restricted times p = ``control_rate`` / p = 0 on the
  paired clock (effect, log scale, margin 1.2): combined the same way (reversed counts as no,
  and the sentence names it).
- **because noisier** — on the first control data set, *noise speeds it up* (ratio
  K = 1 / K = K_max, margin 1.1) and *what is left* (ratio K = K_max / p = 0, margin 1.2):
  **yes** when noise speeds it up is yes and what is left is no or reversed (the noise explains
  the slowdown); **partly** when both are yes (it explains part of it); **no** when noise
  speeds it up is no or reversed (less noise did not train faster); **inconclusive**
  otherwise.

Combining: all three yes → **supported**; noisier and slower yes (because-noisier partly, no or
inconclusive) → **partly supported**, the sentence saying which; noisier no or slower no →
**not supported**; otherwise **inconclusive**.

Metrics read (as :mod:`dropout_study.chapters.noisy_loss.experiment` writes them):
``datasets``, ``control_datasets``, ``dropout_rates``, ``control_rate``, ``control_ks``,
``checkpoints``, ``max_steps``, ``n_seeds``, ``target_fraction``, ``by_dataset[d]``
(``noise``, ``levels``, ``clock``, ``clock_best_lr``) and ``control[d]["variants"]``.
"""

from __future__ import annotations

from collections.abc import Mapping

from dropout_study.chapters.findings import INCONCLUSIVE as UNDECIDED
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.noisy_loss import alternatives, evidence, fixed
from dropout_study.chapters.noisy_loss.answer import (
    PARTLY_CAUSE,
    answer,
    loo_notes,
    medians,
    steps_text,
)
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NO_NEW_EVIDENCE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Alternative,
    Robustness,
    Verdict,
    pick,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.chapters.wording import interval_text, margin_text, outcome_words

__all__ = [
    "NOISY_LOSS_CLAIM",
    "PARTLY_CAUSE",
    "across_datasets",
    "because_outcome",
    "combine",
    "parts",
    "decide",
    "robustness",
    "all_findings",
]

NOISY_LOSS_CLAIM = "Dropout makes the loss surface noisier, so model training takes longer."

_NEED = (
    "datasets",
    "control_datasets",
    "dropout_rates",
    "control_rate",
    "control_ks",
    "checkpoints",
    "max_steps",
    "n_seeds",
    "target_fraction",
    "by_dataset",
    "control",
    "lr_grid",
)


def across_datasets(findings: Mapping[str, Finding]) -> str:
    """yes on every data set → yes; no or reversed on any → no; else inconclusive (a
    not-applicable finding counts as inconclusive)."""
    outs = [f.counted for f in findings.values()]
    if outs and all(o == YES for o in outs):
        return YES
    if any(o in (NO, REVERSED) for o in outs):
        return NO
    return UNDECIDED


def because_outcome(noise: Finding, left: Finding) -> str:
    """yes / partly / no / inconclusive (module docstring)."""
    n, left_ = noise.counted, left.counted
    if n in (NO, REVERSED):
        return NO
    if n == YES and left_ in (NO, REVERSED):
        return YES
    if n == YES and left_ == YES:
        return PARTLY_CAUSE
    return UNDECIDED


def combine(noisier: str, slower: str, because: str) -> str:
    """The combining rule (module docstring)."""
    if noisier == YES and slower == YES:
        return SUPPORTED if because == YES else PARTLY
    if NO in (noisier, slower):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def parts(found: Mapping) -> dict:
    """The three sub-outcomes from findings shaped like :func:`evidence.primary`'s."""
    return {
        "noisier": across_datasets(found["noisier"]),
        "slower": across_datasets(found["slower"]),
        "because": because_outcome(found["noise"], found["left"]),
    }


def _word(found: Mapping) -> str:
    p = parts(found)
    return combine(p["noisier"], p["slower"], p["because"])


def estimate_text(f: Finding, peers=()) -> str:
    """The estimate alone, exactly as the page's tables write it with its interval
    (:func:`~dropout_study.chapters.wording.interval_text`: ``2.416×``, ``0.575``), so that
    the verdict sentence and the tables read the same number alike."""
    return interval_text(f, peers).partition(" [")[0]


def _ratio(f: Finding, peers=()) -> str:
    """A ratio finding's estimate as the page's tables write it (``2.416×``)."""
    return estimate_text(f, peers) if f.estimate == f.estimate else "undefined"


def _ds_list(found: Mapping[str, Finding], fmt) -> str:
    return ", ".join(f"{fmt(f)} on {evidence.NAMES.get(d, d)}" for d, f in found.items())


def _reversed_note(found: Mapping[str, Finding], what: str) -> str:
    rev = [evidence.NAMES.get(d, d) for d, f in found.items() if f.counted == REVERSED]
    return f" (reversed on {', '.join(rev)}: {what})" if rev else ""


_CAUSE = {
    YES: "the noise explains the slowdown",
    PARTLY_CAUSE: "the noise explains part of it",
    NO: "not because of the noise",
    UNDECIDED: "the cause is undecided",
}


def _sentence(m: Mapping, found: Mapping, p: Mapping) -> str:
    cr = f"{m['control_rate']:g}"
    k = m["control_ks"][-1]
    pct = f"{100 * m['target_fraction']:g} %"
    n_, s_ = found["noisier"], found["slower"]
    loo = loo_notes(m)
    peers = list(fixed.flat(found).values())

    def slow(d: str, f: Finding) -> str:
        a, b = medians(m, d)
        note = f"; {loo[f.name]}" if loo.get(f.name) else ""
        name = evidence.NAMES.get(d, d)
        return (
            f"{_ratio(f, peers)} on {name} (geometric mean of the per-seed ratios; medians "
            f"{steps_text(a)} → {steps_text(b)} steps{note})"
        )

    def ctl(key: str) -> str:
        note = loo.get(found[key].name)
        return f"; {note}" if note else ""

    cd = evidence.NAMES.get(m["control_datasets"][0], m["control_datasets"][0])
    where = f"control on {cd} only" if len(m["control_datasets"]) == 1 else f"decided on {cd}"
    return (
        f"Over {m['n_seeds']} paired seeds. Noisier: {p['noisier']} (ρ(p, loss spread across "
        f"masks), p > 0: {_ds_list(n_, lambda f: estimate_text(f, peers))}; margin {_mg(n_)})"
        f"{_reversed_note(n_, 'less noise at larger p')}. Slower: {p['slower']} (time to "
        f"{pct} of the way from the starting loss to the p = 0 run's best, p = {cr} over "
        f"p = 0: {', '.join(slow(d, f) for d, f in s_.items())}; budget {m['max_steps']} "
        f"steps; margin {_mg(s_)}){_reversed_note(s_, 'dropout trained faster')}. Because noisier "
        f"({where}): {p['because']} ({_CAUSE[p['because']]}): K = 1 over K = {k} "
        f"masks per step took {_ratio(found['noise'], peers)} the time (margin "
        f"{_mg({0: found['noise']})}: {outcome_words(found['noise'])}{ctl('noise')}); "
        f"K = {k} over p = 0 took "
        f"{_ratio(found['left'], peers)} (what is left: {outcome_words(found['left'])}"
        f"{ctl('left')})"
        f"{_elsewhere(m, k)}."
    )


def _elsewhere(m: Mapping, k: int) -> str:
    """The control on each further control data set, as the sentence gives the first: its
    cause in words and its two ratios (the rule decides on the first; these are shown so that
    a control that ran is never left out of the sentence)."""
    out = []
    for d in m["control_datasets"][1:]:
        c = _control_alone(m, d)
        cause = because_outcome(c["noise"], c["left"])
        out.append(
            f"; on {evidence.NAMES.get(d, d)}, not part of the rule: {cause} "
            f"({_CAUSE[cause]}): K = 1 over K = {k} took {_ratio(c['noise'])} "
            f"({outcome_words(c['noise'])}), K = {k} over p = 0 {_ratio(c['left'])} "
            f"(what is left: {outcome_words(c['left'])})"
        )
    return "".join(out)


def _mg(found: Mapping) -> str:
    """The margin of the findings in ``found`` (one per data set) as the tables write it
    (``×/÷ 1.2``, ``±0.2``); each distinct one, joined by " / ", where they differ."""
    return " / ".join(dict.fromkeys(margin_text(f) for f in found.values()))


def decide(metrics) -> Verdict:
    """Verdict of chapter 3 (rule and margins in the module docstring)."""
    m = pick(metrics, _NEED, "noisy_loss")
    found = evidence.primary(m)
    p = parts(found)
    word = combine(p["noisier"], p["slower"], p["because"])
    return Verdict(NOISY_LOSS_CLAIM, word, _sentence(m, found, p), answer(m, found, p))


def _detail(row: alternatives.Row, found: Mapping, prim: Mapping) -> str:
    """The row's findings in a few words each, their numbers written as the primary's where
    they are equal (:func:`~dropout_study.chapters.wording.interval_text`'s ``peers``)."""
    p = parts(found)
    peers = list(fixed.flat(prim).values())
    texts = []
    for key in row.replace:
        if key == "only":
            continue
        sub = {"noisier": "noisier", "slower": "slower"}.get(key)
        if sub:
            vals = "; ".join(
                f"{evidence.NAMES.get(d, d)} {_est(f, peers)} {_short(f)}"
                for d, f in row.replace[key].items()
            )
            texts.append(f"{sub}: {p[sub]} — {vals}")
        else:
            f = row.replace[key]
            texts.append(f"{evidence.KEY_WORDS[key]}: {_est(f, peers)} {_short(f)}")
    if "noise" in row.replace or "left" in row.replace:
        texts.append(f"because noisier: {p['because']}")
    return "; ".join(texts)


_SHORT = {YES: "yes", NO: "no effect", REVERSED: "reversed", UNDECIDED: "undecided"}


def _short(f: Finding) -> str:
    """A finding's outcome in one or two words for the robustness table (distinct words for
    undecided, no and reversed; the row gives a not-applicable finding's reason)."""
    return _SHORT[f.outcome] if f.applicable else "not applicable"


def _reason(f: Finding) -> str:
    """Why a not-applicable finding is so (``finding`` requires the reason)."""
    if f.reason is None:
        raise ValueError(f"finding {f.name!r} is not applicable but gives no reason")
    return f.reason


def _est(f: Finding, peers=()) -> str:
    if f.estimate != f.estimate:
        return "undefined"
    return interval_text(f, peers)


def _control_alone(m: Mapping, d: str) -> dict:
    """The control's findings for data set ``d`` alone: measured when the control ran on
    it, else not applicable (never borrowed from another data set)."""
    name = evidence.NAMES.get(d, d)
    if d in m["control_datasets"]:
        return evidence.control_findings(m, d, "primary", "alternative", f" [{name} alone]")
    why = f"the control was not run on {name} in this run"
    return {
        key: evidence.ratio(
            f"{evidence.KEY_WORDS[key]} ({name}): not measured",
            {"values": []},
            margin,
            evidence.MARGIN_SOURCES[key],
            "alternative",
            why,
        )
        for key, margin in (("noise", evidence.NOISE_MARGIN), ("left", evidence.LEFT_MARGIN))
    }


def _row_found(m: Mapping, prim: Mapping, row: alternatives.Row) -> dict:
    found = {k: (dict(v) if isinstance(v, dict) else v) for k, v in prim.items()}
    if "only" in row.replace:
        d = row.replace["only"]
        found["noisier"] = {d: prim["noisier"][d]}
        found["slower"] = {d: prim["slower"][d]}
        if d != m["control_datasets"][0]:
            found.update(_control_alone(m, d))
        return found
    for key, v in row.replace.items():
        found[key] = {**found[key], **v} if isinstance(v, dict) else v
    return found


def _applicability(prim: Mapping, found: Mapping, word: str, seen: dict) -> str:
    """Why an otherwise applicable row is not counted, or ``""``: it moves no finding (the
    primary's numbers, perhaps fewer of them); it repeats an earlier row's numbers; or the rule
    gives the primary's word whatever its moved findings come out (:func:`fixed.fixed`)."""
    if not fixed.moved(prim, found):
        return f"same numbers as the primary: {NO_NEW_EVIDENCE}"
    if fixed.numbers(found) in seen:
        return f"same numbers as {seen[fixed.numbers(found)]}: {NO_NEW_EVIDENCE}"
    if word == _word(prim) and fixed.fixed(prim, found, _word):
        return FIXED_BY_RULE
    return ""


def robustness(metrics) -> Robustness:
    """The verdict re-decided under each alternative analysis the chapter names
    (:func:`evidence.rows`): other noise measures, the clock's variants (targets, absolute
    targets, budget, evaluation grid, the trend over every p), the per-p best learning rate,
    the compared rate, the margins at half and double, each data set alone, the controls'
    variants. Shown and left out of the count: a row whose findings are not applicable, one
    that repeats the primary's (or an earlier row's) numbers, and one whose word the rule fixes
    whatever its moved findings come out (:func:`_applicability`)."""
    m = pick(metrics, _NEED, "noisy_loss.robustness")
    prim = evidence.primary(m)
    primary_word = _word(prim)
    out = []
    seen: dict = {}
    for row in alternatives.rows(m):
        found = _row_found(m, prim, row)
        word = _word(found)
        na = [f for f in row.findings() if not f.applicable]
        reason = row.reason or ("; ".join(sorted({_reason(f) for f in na})) if na else "")
        if not (reason or row.exploratory):
            reason = _applicability(prim, found, word, seen)
            seen.setdefault(fixed.numbers(found), f"the row “{row.choice}”")
        detail = _detail(row, found, prim)
        if "only" in row.replace:
            p = parts(found)
            detail = f"noisier: {p['noisier']}; slower: {p['slower']}; because noisier: "
            detail += p["because"] + "".join(
                f" ({f.reason})" for f in (found["noise"],) if not f.applicable
            )
        out.append(
            Alternative(
                row.choice,
                word,
                detail,
                applicable=not reason,
                reason=reason,
                exploratory=row.exploratory,
            )
        )
    return _table(primary_word, out)


def all_findings(metrics) -> list[Finding]:
    """Every finding of the run, for ``metrics.json``: the primary ones, then those of each
    robustness row (role ``alternative`` or ``exploratory``), then "converges higher"
    (exploratory). Names are unique."""
    m = pick(metrics, _NEED, "noisy_loss.all_findings")
    out = evidence.flatten(evidence.primary(m))
    seen = {f.name for f in out}
    for row in alternatives.rows(m):
        for f in row.findings():
            if f.name not in seen:
                out.append(f)
                seen.add(f.name)
    return out + evidence.exploratory(m)
