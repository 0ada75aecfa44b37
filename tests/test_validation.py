"""The validation helpers: every branch, and the one message template."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dropout_study import validation as V

TEMPLATE = re.compile(r"^The '[^']+' parameter of .+ must be .+; got .+\.$")


def raises(exc, match, func, *args, **kwargs):
    with pytest.raises(exc, match=match) as info:
        func(*args, **kwargs)
    assert TEMPLATE.match(str(info.value)), str(info.value)
    return str(info.value)


def test_fail_and_described():
    msg = raises(ValueError, "lr", V.fail, "lr", "SGD", "in (0, inf)", -1.0)
    assert msg == "The 'lr' parameter of SGD must be in (0, inf); got -1.0."
    msg = raises(TypeError, "name", V.fail, "name", "load", "one of 'a'", "b", TypeError)
    assert msg.endswith("got 'b'.")  # a string value is quoted ...
    msg = raises(ValueError, "X", V.fail, "X", "MLP", "2-D", V.described("shape (3,)"))
    assert msg.endswith("got shape (3,).")  # ... a description is not
    assert V.described("abc") == "abc" and isinstance(V.described("abc"), str)


def test_check_float():
    assert V.check_float(1, "a", "O") == 1.0 and isinstance(V.check_float(1, "a", "O"), float)
    assert V.check_float(np.float32(0.5), "a", "O", low=0, high=1) == 0.5
    raises(
        TypeError,
        r"'a' parameter of O must be a float in the range \(−∞, ∞\); got '1'",
        V.check_float,
        "1",
        "a",
        "O",
    )
    raises(TypeError, r"a float", V.check_float, True, "a", "O")
    raises(TypeError, r"a float", V.check_float, None, "a", "O")
    raises(
        ValueError,
        r"a finite float in the range \[0, 1\]; got nan",
        V.check_float,
        float("nan"),
        "a",
        "O",
        low=0,
        high=1,
    )
    raises(ValueError, r"finite", V.check_float, float("inf"), "a", "O")
    raises(ValueError, r"in \[0, 1\]; got -0.1", V.check_float, -0.1, "a", "O", low=0, high=1)
    raises(ValueError, r"in \[0, 1\]; got 1.5", V.check_float, 1.5, "a", "O", low=0, high=1)
    raises(ValueError, r"in \(0, ∞\); got 0", V.check_float, 0, "a", "O", low=0, low_open=True)
    raises(
        ValueError, r"in \[0, 1\); got 1", V.check_float, 1, "a", "O", low=0, high=1, high_open=True
    )
    assert V.check_float(0.999, "a", "O", low=0, high=1, high_open=True) == 0.999
    raises(ValueError, r"in \(−∞, 2\]; got 3", V.check_float, 3, "a", "O", high=2)


def test_check_int():
    assert V.check_int(np.int64(3), "n", "O", low=1) == 3
    raises(
        TypeError,
        r"'n' parameter of O must be an int in the range \[1, ∞\); got 2.0",
        V.check_int,
        2.0,
        "n",
        "O",
        low=1,
    )
    raises(TypeError, r"an int", V.check_int, False, "n", "O")
    raises(ValueError, r"an int in the range \[1, ∞\); got 0", V.check_int, 0, "n", "O", low=1)
    raises(ValueError, r"\[1, 5\]; got 6", V.check_int, 6, "n", "O", low=1, high=5)


def test_check_bool_and_choice():
    assert V.check_bool(np.bool_(True), "b", "O") is True
    raises(TypeError, r"'b' parameter of O must be a bool; got 1", V.check_bool, 1, "b", "O")
    assert V.check_choice("x", "c", "O", ["x", "y"]) == "x"
    raises(ValueError, r"must be one of 'x', 'y'; got 'z'", V.check_choice, "z", "c", "O", "xy")
    raises(TypeError, r"must be one of 'x', 'y'; got 3", V.check_choice, 3, "c", "O", ("x", "y"))


def test_check_float_list():
    assert V.check_float_list((0, 0.5), "r", "O", low=0, high=1, high_open=True) == [0.0, 0.5]
    assert V.check_float_list(np.array([0.1]), "r", "O") == [0.1]
    allowed = r"a list of at least 1 float, each in \[0, 1\)"
    kw = {"low": 0, "high": 1, "high_open": True}
    raises(TypeError, allowed + "; got '0.5'", V.check_float_list, "0.5", "r", "O", **kw)
    raises(TypeError, allowed, V.check_float_list, 0.5, "r", "O", **kw)
    raises(ValueError, allowed + r"; got \[\]", V.check_float_list, [], "r", "O", **kw)
    raises(TypeError, allowed, V.check_float_list, [0.1, "a"], "r", "O", **kw)
    raises(TypeError, allowed, V.check_float_list, [True], "r", "O", **kw)
    raises(ValueError, allowed, V.check_float_list, [float("nan")], "r", "O", **kw)
    raises(ValueError, allowed + r"; got \[1.5\]", V.check_float_list, [1.5], "r", "O", **kw)
    raises(ValueError, allowed, V.check_float_list, [-0.5], "r", "O", **kw)
    raises(ValueError, allowed, V.check_float_list, [1.0], "r", "O", **kw)
    raises(ValueError, r"\(0, ∞\)", V.check_float_list, [0.0], "r", "O", low=0, low_open=True)
    raises(ValueError, r"at least 2 floats", V.check_float_list, [1.0], "r", "O", min_len=2)


def test_check_int_list():
    assert V.check_int_list([1, np.int32(2)], "s", "O", low=1) == [1, 2]
    raises(
        TypeError,
        r"a list of at least 1 int, each >= 1; got 3",
        V.check_int_list,
        3,
        "s",
        "O",
        low=1,
    )
    raises(ValueError, r"at least 1 int; got \[\]", V.check_int_list, [], "s", "O")
    raises(TypeError, r"at least 1 int;", V.check_int_list, [1.0], "s", "O")
    raises(TypeError, r"at least 1 int;", V.check_int_list, [True], "s", "O")
    raises(ValueError, r"each >= 1; got \[0\]", V.check_int_list, [0], "s", "O", low=1)
    assert V.check_int_list([1, 1024], "s", "O", low=1, high=1024) == [1, 1024]
    with pytest.raises(ValueError, match=r"ints?, each in \[1, 1024\]; got \[2, 1025\]\.$"):
        V.check_int_list([2, 1025], "s", "O", low=1, high=1024)


def test_require_and_a_bound_named_after_another_parameter():
    V.require(True, "b", "O", "a multiple of eval_every", 7)
    with pytest.raises(ValueError, match=r"^The 'b' parameter of O must be a multiple of "
                       r"eval_every \(eval_every = 10\); got 7\.$"):  # fmt: skip
        V.require(False, "b", "O", "a multiple of eval_every", 7, detail="eval_every = 10")
    with pytest.raises(TypeError, match="must be odd; got 2"):
        V.require(False, "n", "O", "odd", 2, TypeError)
    high = V.bound(300, "max_steps")
    assert high == 300 and V.check_int(300, "b", "O", low=1, high=high) == 300
    with pytest.raises(ValueError, match=r"an int in the range \[1, max_steps = 300\]; got 301"):
        V.check_int(301, "b", "O", low=1, high=high)


def test_check_base():
    assert V.check_base(2, "f") == 2.0
    raises(
        TypeError,
        r"'base' parameter of f must be a float > 0 and != 1; got '2'",
        V.check_base,
        "2",
        "f",
    )
    raises(TypeError, "base", V.check_base, True, "f")
    for bad in (0, -1, 1, float("inf"), float("nan")):
        raises(
            ValueError,
            r"'base' parameter of f must be a float > 0 and != 1",
            V.check_base,
            bad,
            "f",
        )


def test_check_probabilities():
    V.check_probabilities(np.array([[0.2, 0.8]]), "p", "f")
    V.check_probabilities(np.array([0.2, 0.9]), "p", "f", rows_sum_to_one=False)
    raises(
        ValueError, r"non-empty; got shape \(0,\)", V.check_probabilities, np.array([]), "p", "f"
    )
    raises(
        ValueError,
        r"probabilities in \[0, 1\]; got values in \[-0.1, 1.1\]",
        V.check_probabilities,
        np.array([-0.1, 1.1]),
        "p",
        "f",
    )
    raises(
        ValueError,
        r"rows that sum to 1; got a row summing to 1.1",
        V.check_probabilities,
        np.array([[0.5, 0.5], [0.5, 0.6]]),
        "p",
        "f",
    )


def test_check_labels():
    np.testing.assert_array_equal(V.check_labels([0, 2], "y", "f", n=2, n_classes=3), [0, 2])
    out = V.check_labels(np.array([1.0, 0.0]), "y", "f", n=None, n_classes=2)
    assert out.dtype == np.intp
    raises(
        ValueError,
        r"a 1-D array of integer labels; got shape \(1, 2\)",
        V.check_labels,
        [[0, 1]],
        "y",
        "f",
        n=None,
        n_classes=2,
    )
    raises(
        TypeError,
        r"integer class labels; got dtype float64",
        V.check_labels,
        [0.5],
        "y",
        "f",
        n=None,
        n_classes=2,
    )
    raises(
        TypeError,
        r"integer class labels; got dtype float64",
        V.check_labels,
        [np.nan],
        "y",
        "f",
        n=None,
        n_classes=2,
    )
    raises(
        TypeError,
        r"integer class labels; got dtype <U1",
        V.check_labels,
        ["a"],
        "y",
        "f",
        n=None,
        n_classes=2,
    )
    raises(
        ValueError,
        r"of length 3 \(one label per sample\); got length 2",
        V.check_labels,
        [0, 1],
        "y",
        "f",
        n=3,
        n_classes=2,
    )
    raises(
        ValueError, r"non-empty; got 0 labels", V.check_labels, [], "y", "f", n=None, n_classes=2
    )
    raises(
        ValueError,
        r"labels in \[0, 1\]; got labels in \[-1, 1\]",
        V.check_labels,
        [-1, 1],
        "y",
        "f",
        n=None,
        n_classes=2,
    )


def test_as_generator():
    g = np.random.default_rng(0)
    assert V.as_generator(g, "rng", "f") is g
    a, b = V.as_generator(5, "rng", "f"), V.as_generator(np.int64(5), "rng", "f")
    assert a.random() == b.random()
    ss = np.random.SeedSequence(9)
    assert V.as_generator(ss, "rng", "f").random() == np.random.default_rng(9).random()
    allowed = r"'rng' parameter of f must be a numpy.random.Generator or a non-negative int seed"
    for bad in (-1, 1.0, True, "0", None, np.random.RandomState(0)):  # noqa: NPY002
        raises(TypeError, allowed, V.as_generator, bad, "rng", "f")


def test_check_float_dtype():
    assert V.check_float_dtype("float32", "O") == np.float32
    assert V.check_float_dtype(np.float64, "O") == np.float64
    for bad in (int, np.float16, "complex128", "nonsense", None):
        raises(
            TypeError,
            r"'dtype' parameter of O must be float32 or float64",
            V.check_float_dtype,
            bad,
            "O",
        )


def test_a_list_that_may_be_empty_says_so_instead_of_at_least_0():
    assert V.check_float_list([], "xs", "f", low=0.0, min_len=0) == []
    with pytest.raises(TypeError, match=r"must be a list of floats \(possibly empty\), each in"):
        V.check_float_list("x", "xs", "f", low=0.0, min_len=0)
    with pytest.raises(ValueError, match=r"must be a list of at least 2 ints, each >= 1; got"):
        V.check_int_list([3], "ks", "f", low=1, min_len=2)
