"""Independent, reproducible streams; nothing touches numpy's global random state."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.seeds import STREAM_NAMES, Streams, replicates, streams


def first_draws(s: Streams):
    return [getattr(s, name).random(4) for name in STREAM_NAMES]


def test_same_seed_same_streams_and_purposes_are_independent():
    a, b = first_draws(streams(3)), first_draws(streams(3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    # five different purposes give five different sequences
    assert len({tuple(x) for x in a}) == len(STREAM_NAMES) == 5
    c = first_draws(streams(4))
    assert all(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_one_stream_does_not_shift_another():
    s1, s2 = streams(11), streams(11)
    s1.masks.random(1000)  # heavy use of the masks stream ...
    np.testing.assert_array_equal(s1.batches.permutation(20), s2.batches.permutation(20))
    np.testing.assert_array_equal(s1.init.standard_normal(5), s2.init.standard_normal(5))


def test_seed_sequences_are_accepted_and_reusable():
    ss = np.random.SeedSequence(123)
    a, b = first_draws(streams(ss)), first_draws(streams(ss))  # the same object twice
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a, first_draws(streams(123)), strict=True):
        np.testing.assert_array_equal(x, y)


def test_replicates_are_prefix_stable_and_distinct():
    five, eight = replicates(7, 5), replicates(7, 8)
    for r5, r8 in zip(five, eight[:5], strict=True):
        for x, y in zip(first_draws(streams(r5)), first_draws(streams(r8)), strict=True):
            np.testing.assert_array_equal(x, y)
    firsts = {tuple(streams(r).init.random(3)) for r in eight}
    assert len(firsts) == 8
    assert tuple(streams(7).init.random(3)) not in firsts
    # replicates of a replicate are fine too (nested sweeps)
    assert len(replicates(eight[0], 2)) == 2


def test_global_random_state_is_untouched():
    # reading the legacy global state is the point of this test
    before = np.random.get_state()  # noqa: NPY002
    s = streams(1)
    s.init.random(10)
    replicates(1, 3)
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: streams(-1), ValueError, r"'seed' parameter of streams must be an int in the"),
        (lambda: streams(1.5), TypeError, r"'seed' parameter of streams must be a non-negative"),
        (lambda: streams(True), TypeError, r"'seed' parameter of streams"),
        (lambda: streams("1"), TypeError, r"'seed' parameter of streams"),
        (lambda: streams(None), TypeError, r"'seed' parameter of streams"),
        (lambda: replicates(-2, 3), ValueError, r"'seed' parameter of replicates"),
        (lambda: replicates(1, 0), ValueError, r"'n' parameter of replicates must be an int in"),
        (lambda: replicates(1, 2.0), TypeError, r"'n' parameter of replicates must be an int"),
    ],
)
def test_seed_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_replicate_is_the_ith_of_replicates():
    from dropout_study.seeds import replicate, replicates

    many = replicates(5, 6)
    for i in (0, 3, 5):
        a, b = replicate(5, i), many[i]
        assert (a.entropy, a.spawn_key) == (b.entropy, b.spawn_key)
    with pytest.raises(ValueError, match="'i' parameter of replicate"):
        replicate(5, -1)


def test_every_chapter_refuses_a_seed_json_cannot_hold_before_any_work():
    """One bound for every chapter's first seed (parameters.complete): above it, one line
    naming the parameter, its value and the range written in full."""
    from dropout_study.book import params
    from dropout_study.book.project import Project
    from dropout_study.seeds import SEED_MAX

    project = Project()
    for cid in project.chapters:
        spec = project.spec(cid)
        params.resolve(spec, "smoke", {"seed": SEED_MAX})  # the bound itself is allowed
        with pytest.raises(ValueError, match=rf"'seed' parameter of {cid} .*\[0, {SEED_MAX}\]"):
            params.resolve(spec, "smoke", {"seed": 10**23})
