"""Issue 7, classes 4-8: parameters parse as typed, estimates before starting, divergence is
an error, exact losses, entry points that validate like ``fit``."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.special
from fixtures.tinybook import make_project, use_fixtures
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dropout_study.book import estimates, params, report
from dropout_study.book import source as chapters
from dropout_study.cli import main as cli
from dropout_study.data import load
from dropout_study.nn import losses
from dropout_study.nn.logistic import PenalisedLogistic
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.training import DIVERGENCE_FACTOR, TrainingDiverged, train
from dropout_study.parameters import follow_member, keep_members
from dropout_study.validation import check_increasing, short_repr


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------------------
# 4. parameters parse as the user typed them
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("010", 10),  # the reproducer: YAML 1.1 reads 8
        ("08", 8),
        ("0010.5", 10.5),
        ("1e-3", 0.001),
        ("yes", "yes"),  # YAML 1.1: True
        ("on", "on"),
        ("1:30", "1:30"),  # YAML 1.1: 90 (sexagesimal)
        ("1_000", 1000),  # ruamel.yaml's 1.2 reader takes digit separators, as Python does
        ("0b11", 3),
        ("0o17", 15),
        ("[010, 020]", [10, 20]),
        ("true", True),
    ],
)
def test_values_parse_with_yaml_1_2_rules(text, value):
    got = params.parse_value(text)
    assert got == value and type(got) is type(value)


def test_seed_010_runs_with_seed_10_from_p_and_f(project, tmp_path):
    spec = project.spec("tiny")
    name, value = params.parse_assignment("seed=010")
    assert params.resolve(spec, "smoke", {name: value})["seed"] == 10
    f = tmp_path / "p.yml"
    f.write_text("seed: 010\nrates: [0, 0.5]\n")
    assert params.resolve(spec, "smoke", params.load_file(f))["seed"] == 10


def test_a_word_yaml_1_1_read_as_bool_is_refused_quoting_it(project):
    spec = project.spec("tiny")
    with pytest.raises(TypeError, match=r"'explode' parameter of tiny must be a bool .*got 'yes'"):
        params.resolve(spec, "smoke", {"explode": params.parse_value("yes")})


@pytest.mark.parametrize(
    "text",
    ["seed: 1\nn: 5\nseed: 2\n", "n: 5\nrates: {a: 1, a: 2}\n"],
)
def test_a_file_that_sets_a_key_twice_is_refused(project, tmp_path, capsys, text):
    f = tmp_path / "dup.yml"
    f.write_text(text)
    assert cli.main(["run", "tiny", "-f", str(f), "--out", str(tmp_path / "o")], project) == 2
    err = one_line_error(capsys)
    assert "'-f' parameter of dropout-study run" in err and str(f) in err
    assert re.search(r"'(seed|a)' set twice \(lines (1 and 3|2 and 2)\)", err), err
    assert not (tmp_path / "o").exists()


def test_a_value_that_sets_a_key_twice_is_refused():
    with pytest.raises(ValueError, match=r"'-p' parameter .* 'a' set twice \(lines 1 and 1\)"):
        params.parse_value("{a: 1, a: 2}")


@pytest.mark.parametrize("data", [b"seed: 1\nlabel: caf\xe9\n", b"\xff\xfeseed: 1\n"])
def test_a_non_utf8_file_gets_the_template_message(project, tmp_path, capsys, data):
    f = tmp_path / "latin1.yml"
    f.write_bytes(data)
    assert cli.main(["run", "tiny", "-f", str(f)], project) == 2
    err = one_line_error(capsys)
    assert re.search(r"The '-f' parameter of dropout-study run must be a UTF-8 encoded", err)
    assert "is not UTF-8" in err


@pytest.mark.parametrize(
    ("typed", "hint"), [("sed", "seed"), ("rate", "rates"), ("lable", "label")]
)
def test_a_typo_gets_did_you_mean(project, capsys, typed, hint):
    assert cli.main(["run", "tiny", "-p", f"{typed}=1"], project) == 2
    err = one_line_error(capsys)
    assert f"got '{typed}=1'. Did you mean '{hint}'?" in err


def test_an_unknown_name_is_said_to_be_the_mistake_not_its_value(project, tmp_path, capsys):
    """The message names what the user typed (the name, not only its value), where the names
    are listed and how many there are, instead of listing every name; from a -f file it names
    the file and the key; nothing is written."""
    out = tmp_path / "o"
    spec = project.spec("tiny")
    assert cli.main(["run", "tiny", "-p", "nosuch=3", "--out", str(out)], project) == 2
    err = one_line_error(capsys)
    assert err.startswith("dropout-study: error: The '-p' parameter of dropout-study run must be")
    assert "got 'nosuch=3'." in err and "got 3" not in err and "Did you mean" not in err
    assert f"'dropout-study params tiny' lists all {len(spec.names)}" in err
    assert not any(f"{n}," in err for n in spec.names)  # the names are not all listed
    f = tmp_path / "p.yml"
    f.write_text("seed: 1\nlable: x\n")
    assert cli.main(["run", "tiny", "-f", str(f), "--out", str(out)], project) == 2
    err = one_line_error(capsys)
    assert "The '-f' parameter of dropout-study run must be a YAML file whose keys" in err
    assert f"got '{f}' with the key 'lable'. Did you mean 'label'?" in err
    assert not out.exists()


def test_a_typo_of_a_profile_gets_did_you_mean(project, capsys):
    assert cli.main(["run", "tiny", "--profile", "smok"], project) == 2
    assert "Did you mean 'smoke'?" in one_line_error(capsys)


def test_a_typo_of_a_chapter_id_gets_did_you_mean(capsys):
    assert cli.main(["run", "noisy-los", "--profile", "smoke"]) == 2
    err = one_line_error(capsys)
    assert "'chapter' parameter" in err and "Did you mean 'noisy-loss'?" in err


def test_long_lists_are_cut_in_messages(project, capsys):
    rates = "[" + ", ".join(["0.1"] * 200) + ", 2.0]"
    assert cli.main(["run", "tiny", "-p", f"rates={rates}"], project) == 2
    err = one_line_error(capsys)
    assert "(201 items)" in err and len(err) < 400
    assert short_repr(list(range(100))) == "[0, 1, 2, 3, 4, 5, …, 99] (100 items)"
    assert short_repr("x" * 500).endswith("…") and len(short_repr("x" * 500)) == 120


def test_check_increasing():
    assert check_increasing([0.0, 0.1], "r", "o") == [0.0, 0.1]
    with pytest.raises(ValueError, match=r"'r' parameter of o must be increasing and without"):
        check_increasing([0.0, 0.5, 0.5], "r", "o")
    with pytest.raises(ValueError, match=r"got \[1, 0\]"):
        check_increasing([1, 0], "r", "o")


def test_a_list_check_needs_a_stated_reason_to_leave_the_order_free():
    from dropout_study.validation import check_float_list

    with pytest.raises(ValueError, match="increasing and without repeats"):
        check_float_list([0.5, 0.1], "r", "o")
    assert check_float_list([0.5, 0.1], "r", "o", order="any: why") == [0.5, 0.1]
    with pytest.raises(TypeError, match="'increasing' or 'any: <why order is free>'"):
        check_float_list([0.5, 0.1], "r", "o", order="free")


def _grid_params():
    """Every numeric list parameter of every chapter (read from the parameter specs)."""
    for cid in chapters.chapter_ids():
        spec = chapters.load(cid)
        for p in spec.params:
            if p.type in ("list[int]", "list[float]") and len(set(p.default)) >= 2:
                yield cid, p.name


@pytest.mark.parametrize(("cid", "name"), list(_grid_params()))
def test_every_grid_refuses_an_unsorted_list_unless_its_order_is_declared_free(cid, name):
    from dropout_study.book.catalog import allowed_ranges

    spec = chapters.load(cid)
    shown = allowed_ranges(spec)[name]
    default = spec.param(name).default
    unsorted = list(reversed(default))
    if "in any order" in shown:
        return  # the chapter states why (e.g. layer widths, input to output)
    assert "increasing and without repeats" in shown
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of {cid} must be"):
        params.resolve(spec, "book", {name: unsorted})


def test_a_dependent_default_follows_its_parent():
    spec = chapters.load("noisy-loss")
    # the reproducer (v1: contour_rate; v2: control_rate): the user sets dropout_rates
    # without 0.5 and never typed control_rate
    got = params.resolve(spec, "smoke", {"dropout_rates": [0.0, 0.2, 0.4]})
    assert got["control_rate"] == 0.4
    got = params.resolve(spec, "smoke", {"dropout_rates": [0.0, 0.6, 0.9]})
    assert got["control_rate"] == 0.6  # nearest member > 0
    # the user's own value is kept and checked
    with pytest.raises(ValueError, match="'control_rate' parameter of noisy-loss"):
        params.resolve(spec, "smoke", {"dropout_rates": [0.0, 0.2, 0.3], "control_rate": 0.5})
    assert params.resolve(spec, "smoke")["control_rate"] == 0.5  # the default when valid


@pytest.mark.parametrize(
    "cid, parent, value, child, expected",
    [
        ("l1-vs-l2", "lambdas", [0.1, 1.0], "pitfall_lambda", 0.1),
        ("linearity", "dropout_rates", [0.0, 0.2, 0.4], "match_rate", 0.4),
        ("linearity", "dropout_rates", [0.0, 0.2, 0.4], "trajectory_rate", 0.4),
    ],
)
def test_every_member_default_follows_its_list(cid, parent, value, child, expected):
    # same class in the other chapters: setting the list alone must not fail on a child
    # parameter the user never typed ("must be one of the lambdas [0.1, 1.0]; got 0.01")
    spec = chapters.load(cid)
    assert params.resolve(spec, "smoke", {parent: value})[child] == expected
    with pytest.raises(ValueError, match=f"'{child}' parameter of {cid}"):
        params.resolve(spec, "smoke", {parent: value, child: 0.3})


@pytest.mark.parametrize("cid", chapters.chapter_ids())
def test_narrowing_a_list_never_fails_on_a_parameter_the_user_did_not_set(cid):
    # the class of "-p alt_datasets=[]" failing on control_alt_datasets (a child the user
    # never typed): every list parameter cut to its first value, its last value or nothing,
    # at every profile, either resolves or is refused naming that same list
    spec = chapters.load(cid)
    for profile in params.PROFILES:
        base = params.resolve(spec, profile, check=False)
        for p in spec.params:
            if not p.type.startswith("list["):
                continue
            v = base[p.name]
            for value in (v[:1], v[-1:], [], v[:-1], v[1:]):
                try:
                    params.resolve(spec, profile, {p.name: value})
                except (ValueError, TypeError) as exc:
                    named = re.search(r"The '([^']+)' parameter", str(exc))
                    assert named and named.group(1) == p.name, (profile, p.name, value, exc)


def test_keep_members_rule():
    rule = keep_members("c", "r")
    assert rule({"c": ["a", "b"], "r": ["b", "a", "d"]}) == ["a", "b"]
    assert rule({"c": ["a", "b"], "r": ["b"]}) == ["b"]
    assert rule({"c": ["a"], "r": []}) == []
    spec = chapters.load("cost-under-dropout")
    got = params.resolve(spec, "book", {"alt_datasets": ["circles"]})
    assert got["control_alt_datasets"] == []  # its default breast_cancer left with its parent
    with pytest.raises(ValueError, match="'control_alt_datasets' parameter of cost-under"):
        params.resolve(
            spec, "book", {"alt_datasets": ["circles"], "control_alt_datasets": ["moons"]}
        )


def test_follow_member_rule():

    rule = follow_member("c", "r", where=lambda v: v > 0)
    assert rule({"c": 0.5, "r": [0.0, 0.5]}) == 0.5
    assert rule({"c": 0.5, "r": [0.0, 0.4, 0.6]}) == 0.6  # tie: the larger
    assert rule({"c": 0.0, "r": [0.0, 0.3]}) == 0.3  # 0 is a member but not allowed


# ------------------------------------------------------------------------------------------
# 5. work and memory are estimated before starting
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cid", chapters.chapter_ids())
def test_each_chapter_has_an_estimate_that_grows_with_its_work(cid):
    try:
        spec = chapters.load(cid)
    except Exception:  # noqa: BLE001
        pytest.skip(f"chapter {cid} has no source in this checkout")
    smoke = estimates.estimate(cid, params.resolve(spec, "smoke"))
    book = estimates.estimate(cid, params.resolve(spec, "book"))
    assert 0 < smoke.work < book.work and math.isfinite(book.seconds)
    # robust to a parameter it does not know and to a missing one
    extra = estimates.estimate(cid, {**params.resolve(spec, "book"), "new_knob": 3})
    assert extra.work == book.work
    assert estimates.estimate(cid, {}).work > 0


def test_unknown_chapter_gets_the_generic_estimate():
    e = estimates.estimate("tiny", {"n_seeds": 4, "n_steps": 10, "rates": [0, 1]})
    assert e.work == estimates.estimate("tiny", {"n_seeds": 4, "n_steps": 10}).work * 2
    assert "estimate for tiny" in e.text()


def test_a_run_that_cannot_fit_in_memory_is_refused_before_a_kernel(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["run", "cost-under-dropout", "--profile", "smoke", "-p", "n_masks=10000000000"]
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "small enough to fit in memory" in err and "TB" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "cid, wide",
    [
        ("noisy-loss", "hidden=[99999999]"),  # was estimated at 12.8 GB, needed 89 GiB
        ("l1-vs-l2", "hidden=[2000000000]"),  # memory did not depend on the width at all
        ("linearity", "hidden_sizes=[1024,1024]"),  # stays small: a sanity bound, no refusal
    ],
)
def test_the_memory_estimate_counts_the_network(cid, wide):
    spec = chapters.load(cid)
    name, value = wide.split("=")
    base = estimates.estimate(cid, params.resolve(spec, "smoke"))
    big = estimates.estimate(
        cid, params.resolve(spec, "smoke", {name: [int(v) for v in value.strip("[]").split(",")]})
    )
    assert big.memory > base.memory
    if cid != "linearity":
        with pytest.raises(ValueError, match="small enough to fit in memory"):
            estimates.check(big, yes=True)


# the largest cap each allows (linearity caps max_steps at 1e5, noisy-loss at 1e6: its runs
# train the whole budget)
@pytest.mark.parametrize("cid, cap", [("noisy-loss", 10**6), ("l1-vs-l2", 10**10)])
def test_a_huge_step_cap_needs_yes(cid, cap):
    # training.train grows its history as it goes, so a large cap costs no memory up front
    # (test_stopping), but the run's work grows with it: it must ask for --yes (at the book
    # profile's seeds and data sets: the smoke profile's few are 1.3 h at the rough rate)
    spec = chapters.load(cid)
    big = estimates.estimate(cid, params.resolve(spec, "book", {"max_steps": cap}))
    assert big.seconds > estimates.CONFIRM_SECONDS
    with pytest.raises(ValueError, match="add --yes"):
        estimates.check(big)


def test_a_long_run_needs_yes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    argv = ["run", "cost-under-dropout", "--profile", "smoke", "-p", "max_steps=10000000000"]
    assert cli.main([*argv, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "add --yes" in err and "estimate for cost-under-dropout" in err
    assert not out.exists()
    # with --yes the check passes (stop right after it, before any kernel)
    seen = []

    def stop(est, *, yes=False, owner=""):
        seen.append(yes)
        raise ValueError("stopped by the test")

    monkeypatch.setattr(estimates, "check", stop)
    assert cli.main([*argv, "--yes", "--out", str(out)]) == 2
    assert seen == [True]


def test_the_estimate_is_printed_at_the_start(project, tmp_path, capsys, monkeypatch):
    from dropout_study.book import pipeline

    def fake_execute(*a, **k):
        raise pipeline.ChapterFailed("stopped by the test")

    monkeypatch.setattr(cli, "execute", fake_execute)
    assert cli.main(["run", "tiny", "--out", str(tmp_path / "o")], project) == 1
    out = capsys.readouterr().out
    assert out.startswith("estimate for tiny: about ")


# ------------------------------------------------------------------------------------------
# 6. divergence is an error, not a verdict
# ------------------------------------------------------------------------------------------
def _data(rng, n=40, d=3):
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [1000.0, 1e6])
def test_a_huge_learning_rate_raises_training_diverged_naming_step_and_lr(dtype, lr):
    rng = np.random.default_rng(0)
    X, y = _data(rng)
    model = MLP([3, 16, 16, 1], head="sigmoid", dropout=0.2, rng=0, dtype=dtype)
    with pytest.raises(
        TrainingDiverged, match=rf"at step \d+ .*lr={re.escape(f'{lr:g}')}\)"
    ) as info:
        train(model, X, y, optimizer=SGD(lr), n_steps=300, mask_rng=1)
    assert "try a smaller learning rate" in str(info.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_finite_loss_that_explodes_past_the_factor_raises(dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    y = X @ np.array([1.0, -1.0])
    model = MLP([2, 8, 1], head="identity", dropout=None, rng=0, dtype=dtype)
    hist = train(model, X, y, optimizer=SGD(0.01), n_steps=20)  # a sane run passes
    assert np.all(np.isfinite(hist.step_loss))
    model = MLP([2, 8, 1], head="identity", dropout=None, rng=0, dtype=dtype)
    with pytest.raises(TrainingDiverged, match=rf"grew beyond {DIVERGENCE_FACTOR:g} times"):
        train(model, X, y, optimizer=Adam(5.0), n_steps=400, diverge_factor=DIVERGENCE_FACTOR)


def test_diverge_factor_is_validated():
    model = MLP([2, 1], head="identity", rng=0)
    with pytest.raises(ValueError, match="'diverge_factor' parameter of train"):
        train(model, np.ones((4, 2)), np.ones(4), optimizer=SGD(0.1), n_steps=1, diverge_factor=1)


@pytest.mark.parametrize(
    "metrics",
    [
        {"gap": float("inf")},
        {"gap": [0.1, -float("inf")]},
        {"curve": np.array([[1.0, 2e300]])},
        {"nested": {"loss": 1e13}},
    ],
)
def test_finish_refuses_non_finite_or_absurd_metrics(monkeypatch, tmp_path, metrics):
    from dropout_study.chapters.verdicts import SUPPORTED, Verdict

    monkeypatch.chdir(tmp_path)
    use_fixtures(monkeypatch)
    report._STATE.clear()
    report._STATE.update(
        chapter="tiny",
        claim="c",
        profile="smoke",
        params={},
        experiment="tiny_experiment",
        outdir=tmp_path,
        figures=[],
        glued={},
    )
    with pytest.raises(
        ValueError, match=r"'metrics\..*' parameter of report.finish must be finite"
    ):
        report.finish(Verdict("c", SUPPORTED, "s."), metrics)
    assert not (tmp_path / "metrics.json").exists()
    report.finish(Verdict("c", SUPPORTED, "s."), {"undefined": float("nan")})  # NaN = undefined
    assert (tmp_path / "metrics.json").is_file()


# ------------------------------------------------------------------------------------------
# 7. losses are exact for every valid input
# ------------------------------------------------------------------------------------------
def test_zero_targets_contribute_zero_with_extreme_logits():
    y = [[1, 0]]
    assert losses.categorical_cross_entropy(y, [[1e308, -1e308]], from_logits=True) == 0.0
    assert losses.categorical_cross_entropy([[0, 1]], [[-1e308, 1e308]], from_logits=True) == 0.0
    assert losses.binary_cross_entropy([1.0], [1e308], from_logits=True) == 0.0
    assert losses.binary_cross_entropy([0.0], [-1e308], from_logits=True) == 0.0


def test_the_mean_does_not_overflow_when_every_term_is_finite():
    z = np.array([[1e308, -1e308], [1e308, -1e308]]) / 2  # terms of 1e308 each
    v = losses.categorical_cross_entropy([[0, 1], [0, 1]], z, from_logits=True)
    assert v == pytest.approx(1e308, rel=1e-12)
    b = losses.binary_cross_entropy([0.0, 0.0], [1.5e308, 1.5e308], from_logits=True)
    assert b == pytest.approx(1.5e308, rel=1e-12)


finite64 = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False)
_F32 = float(np.finfo(np.float32).max)
finite32 = st.floats(min_value=-_F32, max_value=_F32, allow_nan=False, width=32)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_categorical_from_logits_matches_a_float64_reference(data, dtype):
    n = data.draw(st.integers(1, 4))
    k = data.draw(st.integers(2, 4))
    z = data.draw(hnp.arrays(dtype, (n, k), elements=finite32 if dtype == np.float32 else finite64))
    labels = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    y = np.eye(k)[labels]
    z64 = z.astype(np.float64)
    logq = scipy.special.log_softmax(z64, axis=1)
    ref_terms = -logq[np.arange(n), labels]
    if not np.all(np.isfinite(ref_terms)):
        return  # the true loss is beyond the float range: nothing to compare
    ref = (
        float(np.mean(ref_terms / n) * n)
        if np.max(ref_terms) > 1e300
        else float(np.mean(ref_terms))
    )
    got = losses.categorical_cross_entropy(y, z, from_logits=True)
    sparse = losses.sparse_categorical_cross_entropy(labels, z, from_logits=True)
    assert math.isfinite(got) and math.isfinite(sparse)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-300)
    assert sparse == pytest.approx(ref, rel=1e-12, abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_binary_from_logits_matches_a_float64_reference(data, dtype):
    n = data.draw(st.integers(1, 5))
    z = data.draw(hnp.arrays(dtype, (n,), elements=finite32 if dtype == np.float32 else finite64))
    y = data.draw(hnp.arrays(np.float64, (n,), elements=st.sampled_from([0.0, 1.0])))
    z64 = z.astype(np.float64)
    # -log σ(z) = logaddexp(0, -z); -log(1 - σ(z)) = logaddexp(0, z)  (numpy, not our code)
    ref_terms = np.where(y == 1, np.logaddexp(0.0, -z64), np.logaddexp(0.0, z64))
    got = losses.binary_cross_entropy(y, z, from_logits=True)
    assert math.isfinite(got)
    assert got == pytest.approx(math.fsum(ref_terms / n), rel=1e-12, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.0, 1.0), y=st.sampled_from([0.0, 1.0]))
def test_probabilities_give_the_same_loss_in_both_dtypes_with_one_cap(p, y):
    q32 = np.array([p], dtype=np.float32)
    got32 = losses.binary_cross_entropy([y], q32)
    got64 = losses.binary_cross_entropy([y], q32.astype(np.float64))
    assert got32 == got64
    assert got32 <= -math.log(losses.EPS) + 1e-12


def test_the_clip_cap_is_the_same_for_every_dtype():
    cap = -math.log(np.finfo(np.float64).eps)
    assert cap == pytest.approx(36.04, abs=0.01)
    for dtype in (np.float32, np.float64):
        q = np.array([[1.0, 0.0]], dtype=dtype)
        assert losses.categorical_cross_entropy([[0.0, 1.0]], q) == pytest.approx(cap, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_unsupported_dtypes_are_refused(dtype):
    if np.dtype(dtype) == np.float64:
        pytest.skip("longdouble is float64 on this platform")
    q = np.array([[0.5, 0.5]], dtype=dtype)
    with pytest.raises(TypeError, match=r"must be float32 or float64; got dtype"):
        losses.categorical_cross_entropy([[1.0, 0.0]], q)


@pytest.mark.parametrize("bad", [1e20, -3e9, 2.0**70])
def test_label_range_is_checked_before_any_cast(bad):
    with pytest.raises(
        ValueError, match=r"labels in \[0, 1\]; got labels in .*" + re.escape(f"{bad:g}")
    ):
        losses.sparse_categorical_cross_entropy(np.array([0.0, bad]), [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match=re.escape(f"{bad:g}")):
        MLP([2, 3], head="softmax", rng=0).loss(np.zeros((2, 2)), np.array([0.0, bad]))


# ------------------------------------------------------------------------------------------
# 8. every public entry point validates like fit does
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + 0.3 * rng.standard_normal(60) > 0).astype(int)
    return PenalisedLogistic(penalty="l2", lam=0.01).fit(X, y), X, y


@pytest.mark.parametrize("method", ["predict", "decision_function"])
@pytest.mark.parametrize(
    ("X", "exc", "match"),
    [
        (np.array([[np.nan, 0.0, 0.0]]), ValueError, "finite"),
        (np.array([[np.inf, 0.0, 0.0]]), ValueError, "finite"),
        (np.array([["a", "b", "c"]]), TypeError, "real numeric"),
        (np.array([[1j, 0, 0]]), TypeError, "real numeric"),
        (np.zeros((0, 3)), ValueError, "shape"),
    ],
)
def test_predict_refuses_what_fit_refuses(fitted, method, X, exc, match):
    model, _, _ = fitted
    with pytest.raises(exc, match=rf"'X' parameter of PenalisedLogistic.*{match}"):
        getattr(model, method)(X)


@pytest.mark.parametrize(
    ("y", "exc", "match"),
    [
        ([0, 2], ValueError, r"labels in \{0, 1\}; got values \[2\]"),
        ([0.5, 1], ValueError, r"labels in \{0, 1\}"),
        (["a", "b"], TypeError, r"labels in \{0, 1\}"),
        ([0, 1, 1], ValueError, "1-D array of 2 labels"),
    ],
)
def test_score_refuses_labels_fit_refuses(fitted, y, exc, match):
    model, X, _ = fitted
    with pytest.raises(exc, match=match):
        model.score(X[:2], y)


def test_score_still_matches_sklearn_accuracy(fitted):
    from sklearn.metrics import accuracy_score

    model, X, y = fitted
    assert model.score(X, y) == accuracy_score(y, model.predict(X))


@pytest.mark.parametrize(
    "bad",
    [
        lambda n: np.r_[np.zeros(n - 1), np.nan],  # the reproducer: the last entry
        lambda n: np.r_[np.inf, np.zeros(n - 1)],
        lambda n: np.array(["x"] * n),
        lambda n: np.zeros(n, dtype=complex),
        lambda n: np.zeros(n, dtype=bool),
        lambda n: np.r_[np.zeros(n - 1), 1e300],  # overflows float32
    ],
)
def test_set_params_checks_the_whole_vector_before_writing(bad):
    model = MLP([3, 4, 4, 2], head="softmax", rng=0, dtype=np.float32)
    before = model.get_params()
    with pytest.raises((ValueError, TypeError), match="'theta' parameter of MLP.set_params"):
        model.set_params(bad(model.n_params))
    np.testing.assert_array_equal(model.get_params(), before)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"test_fraction": 0.01}, "test_fraction"),
        ({"val_fraction": 0.01}, "val_fraction"),
        ({"val_fraction": 0.75, "test_fraction": 0.2}, "val_fraction"),
    ],
)
def test_load_names_its_own_split_parameter(kw, name):
    with pytest.raises(ValueError, match=rf"^The '{name}' parameter of load must be") as info:
        load("moons", n_samples=20, **kw)
    assert "test_size" not in str(info.value)


# ------------------------------------------------------------------------------------------
# the study's environment variables and an empty --out are refused before any kernel starts
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DROPOUT_STUDY_JOBS", "abc"),
        ("DROPOUT_STUDY_JOBS", "0"),
        ("DROPOUT_STUDY_JOBS", "-3"),
        ("DROPOUT_STUDY_SWEEP_CACHE", "/proc/x"),
    ],
)
def test_bad_environment_is_one_line_before_a_kernel(name, value, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(name, value)
    out = tmp_path / "o"
    assert cli.main(["run", "noisy-loss", "--profile", "smoke", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"'{name}'" in err and value in err
    assert not out.exists()


def test_an_empty_out_is_refused(capsys):
    assert cli.main(["run", "noisy-loss", "--profile", "smoke", "--out", ""]) == 2
    assert "'--out'" in one_line_error(capsys)


def test_a_list_that_must_include_a_value_follows_it():
    # noisy-loss: `-p lr=0.2` used to fail on lr_grid = [0.1, 0.3], a value never typed
    spec = chapters.load("noisy-loss")
    assert params.resolve(spec, "smoke", {"lr": 0.2})["lr_grid"] == [0.1, 0.2, 0.3]
    assert params.resolve(spec, "smoke")["lr_grid"] == [0.1, 0.3]  # lr = 0.1 already in
    with pytest.raises(ValueError, match="'lr_grid' parameter of noisy-loss"):
        params.resolve(spec, "smoke", {"lr": 0.2, "lr_grid": [0.1, 0.3]})  # the user's own


def test_a_bound_set_by_another_parameter_and_the_other_data_sets_are_checked():
    # found by a new user: dropout-paper ran with eval_every above max_steps (and its verdict
    # changed); cost-under-dropout counted its own data set as an "other" data set
    with pytest.raises(ValueError, match=r"'eval_every' parameter of dropout-paper .*max_steps"):
        params.resolve(chapters.load("dropout-paper"), "smoke", {"eval_every": 5000})
    with pytest.raises(ValueError, match="'alt_datasets' parameter of cost-under-dropout"):
        params.resolve(chapters.load("cost-under-dropout"), "smoke", {"alt_datasets": ["moons"]})
    got = params.resolve(chapters.load("cost-under-dropout"), "book", {"dropout_rates": [0, 0.2]})
    assert got["primary_rate"] == 0.2  # follows the narrowed list, as in the other chapters
