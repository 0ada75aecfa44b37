"""Parameter resolution (cell < profile < overrides), typing rules and YAML values."""

from __future__ import annotations

import pytest
from fixtures.tinybook import TINY, use_fixtures

from dropout_study.book import params
from dropout_study.book.source import load


@pytest.fixture
def spec(monkeypatch):
    use_fixtures(monkeypatch)
    return load("tiny", TINY, chapters=("tiny",))


def test_book_profile_is_the_cell_defaults(spec):
    assert params.resolve(spec, "book") == spec.defaults()


def test_resolution_order_defaults_then_profile_then_overrides(spec):
    smoke = params.resolve(spec, "smoke")
    assert smoke["n"] == 20 and smoke["p"] == 0.5  # profile over cell; cell where unset
    both = params.resolve(spec, "smoke", {"n": 5, "p": 0.25})
    assert both["n"] == 5 and both["p"] == 0.25  # overrides over profile
    full = params.resolve(spec, "full", {"seed": 3})
    assert full["rates"] == [0.0, 0.25, 0.5, 0.75] and full["n"] == 2000 and full["seed"] == 3
    assert list(full) == list(spec.names)  # declaration order


def test_resolve_does_not_modify_its_arguments(spec):
    overrides = {"rates": (0, 0.5), "p": 0}
    before = dict(overrides)
    out = params.resolve(spec, "smoke", overrides)
    assert overrides == before
    assert out["rates"] == [0.0, 0.5] and isinstance(out["rates"], list)
    assert out["p"] == 0.0 and type(out["p"]) is float  # int accepted for float, converted


@pytest.mark.parametrize(
    ("overrides", "exc", "match"),
    [
        (
            {"nope": 1},
            ValueError,
            r"The 'overrides' parameter of tiny must be a mapping whose keys are each a "
            r"parameter of tiny \('dropout-study params tiny' lists all 6\); got the key 'nope'\.$",
        ),
        ({"n": 2.5}, TypeError, r"The 'n' parameter of tiny must be an int; got 2\.5\."),
        ({"n": True}, TypeError, r"The 'n' parameter of tiny must be an int; got True\."),
        ({"p": True}, TypeError, r"The 'p' parameter of tiny must be a float; got True\."),
        ({"p": "0.5"}, TypeError, r"The 'p' parameter of tiny must be a float; got '0\.5'\."),
        ({"rates": "0.5"}, TypeError, r"The 'rates' parameter of tiny must be a list of floats; "),
        ({"rates": [0.1, "a"]}, TypeError, r"The 'rates' parameter of tiny must be a list of fl"),
        ({"label": 3}, TypeError, r"The 'label' parameter of tiny must be a string; got 3\."),
        ({"explode": 1}, TypeError, r"The 'explode' parameter of tiny must be a bool"),
        ({"p": 1.5}, ValueError, r"The 'p' parameter of tiny must be in \[0, 1\); got 1\.5\."),
        ({"seed": -1}, ValueError, r"The 'seed' parameter of tiny must be an int in the range"),
        ({"rates": [0.2, 1.0]}, ValueError, r"The 'rates' parameter of tiny must be a list of"),
    ],
)
def test_invalid_values_are_rejected_with_the_template(spec, overrides, exc, match):
    with pytest.raises(exc, match=match):
        params.resolve(spec, "book", overrides)


def test_range_checks_can_be_left_to_the_kernel(spec):
    assert params.resolve(spec, "book", {"p": 1.5}, check=False)["p"] == 1.5


@pytest.mark.parametrize(
    ("profile", "exc", "match"),
    [
        (
            "fast",
            ValueError,
            r"The 'profile' parameter of dropout-study must be one of 'smoke', "
            r"'book', 'full'; got 'fast'\.",
        ),
        (1, TypeError, r"The 'profile' parameter of dropout-study must be one of"),
    ],
)
def test_unknown_profile(spec, profile, exc, match):
    with pytest.raises(exc, match=match):
        params.resolve(spec, profile)


def test_overrides_must_be_a_mapping(spec):
    with pytest.raises(TypeError, match=r"The 'overrides' parameter of tiny must be a mapping"):
        params.resolve(spec, "book", [("n", 3)])


def test_check_type_rejects_an_unknown_type():
    with pytest.raises(ValueError, match=r"The 'type' parameter of x must be one of int, float"):
        params.check_type(1, "dict", "a", "x")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        ("3", 3),
        ("[0,0.25,0.5]", [0, 0.25, 0.5]),
        ("[0, 0.25, 0.5]", [0, 0.25, 0.5]),
        ("1e-3", 1e-3),
        ("-2.5E+2", -250.0),
        ("true", True),
        ("abc", "abc"),
        ("[a, b]", ["a", "b"]),
        ('"1"', "1"),
    ],
)
def test_values_are_parsed_as_yaml(text, value):
    got = params.parse_value(text)
    assert got == value and type(got) is type(value)


def test_scientific_notation_is_a_float_not_a_string():
    assert isinstance(params.parse_value("1e-3"), float)
    assert params.parse_assignment("lr=1e-3") == ("lr", 0.001)


def test_invalid_yaml_is_reported():
    with pytest.raises(ValueError, match=r"The value '\[1,' is not valid YAML"):
        params.parse_value("[1,")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "n",
            r"The '-p' parameter of dropout-study run must be NAME=VALUE \(value in YAML\); "
            r"got 'n'\.",
        ),
        ("1x=3", r"The '-p' parameter of dropout-study run must be NAME=VALUE with NAME a"),
    ],
)
def test_bad_assignments(text, match):
    with pytest.raises(ValueError, match=match):
        params.parse_assignment(text)


def test_assignment_keeps_equals_signs_in_the_value():
    assert params.parse_assignment("label=a=b") == ("label", "a=b")


def test_load_file(tmp_path):
    f = tmp_path / "p.yml"
    f.write_text("n: 5\nrates: [0, 0.5]\n", encoding="utf-8")
    assert params.load_file(f) == {"n": 5, "rates": [0, 0.5]}
    (tmp_path / "empty.yml").write_text("", encoding="utf-8")
    assert params.load_file(tmp_path / "empty.yml") == {}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, r"The '-f' parameter of dropout-study run must be an existing YAML file"),
        ("- 1\n- 2\n", r"The '-f' parameter of dropout-study run must be a YAML mapping"),
        ("n: [1,\n", r"is not valid YAML"),
    ],
)
def test_load_file_errors(tmp_path, content, match):
    f = tmp_path / "p.yml"
    if content is not None:
        f.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        params.load_file(f)


# ------------------------------------------------------------------------------------------
# the allowed ranges `dropout-study params` shows are what the validation enforces
# ------------------------------------------------------------------------------------------
_INTERVAL = r"([\[(])([^,\[\]()]+(?:\([^)]*\))?[^,\[\]()]*), ([^\[\]]+?)([\])])"


def _bound(text: str, defaults: dict) -> float:
    """A shown bound: a number, ``∞`` (``−∞``), or an expression in other parameters
    (``max_steps``, ``n_lambdas − 1``, ``len(ce_example) − 1``) at the defaults."""
    text = text.replace("−", "-").replace("∞", "inf").strip()
    try:
        return float(text)
    except ValueError:
        return eval(text, {"len": len, "__builtins__": {}}, dict(defaults))


def _probes(kind: str, low: float, high: float, low_open: bool, high_open: bool):
    """(value, inside?, side) at and just beyond each shown bound (side 0: the low one, -1:
    the high one; in a list, the item replaced); a large value when unbounded."""
    import math

    def step(x, sign):
        return x + sign if kind == "int" else x + sign * max(1e-9, abs(x) * 1e-9)

    out = []
    if math.isfinite(low):
        out += [(low, False, 0)] if low_open else [(low, True, 0), (step(low, -1), False, 0)]
    else:
        out += [(-1e6, True, 0)]
    if math.isfinite(high):
        out += [(high, False, -1)] if high_open else [(high, True, -1), (step(high, 1), False, -1)]
    else:
        out += [(10**6, True, -1)]
    return [(int(v) if kind == "int" else float(v), inside, side) for v, inside, side in out]


def _outcome(module, values: dict, name: str) -> str | None:
    """``None`` if ``check_params`` accepts ``values`` as far as ``name`` is concerned, else
    what it says ``name`` must be (the text between "must be" and "; got")."""
    import re

    try:
        module.check_params(dict(values))
    except (ValueError, TypeError) as exc:
        m = re.match(rf"The '{name}' parameter of \S+ must be (.*); got ", str(exc))
        return m.group(1) if m else None  # another parameter's rule: not this one's range
    return None


def test_the_shown_allowed_values_are_what_check_params_enforces():
    """For every parameter of every chapter, ``dropout-study params`` (catalog.allowed_ranges)
    shows an interval and rules; at each shown bound ``check_params`` accepts the value (or
    refuses it only with one of the rules shown), just beyond it refuses it, and an
    unbounded side accepts a large value; a list shorter than the shown minimum is refused.
    (``hidden_sizes`` was shown as [1, ∞) and refused above 1024.)"""
    import importlib
    import re

    from dropout_study.book.catalog import allowed_ranges
    from dropout_study.book.params import resolve
    from dropout_study.book.project import Project

    project = Project()
    bad, n_probes = [], 0
    for cid, profile in [(c, pr) for c in project.chapters for pr in ("smoke", "book", "full")]:
        # every profile: a bound shown as one profile's value of another parameter is wrong
        # in the others (digits_eval_every was shown [1, 400] and refused 41 at smoke)
        spec = project.spec(cid)
        module = importlib.import_module(spec.experiment)
        d = resolve(spec, profile)
        for p in spec.params:
            shown = allowed_ranges(spec).get(p.name)
            if shown is None:
                continue
            first, *rules = shown.split("; ")
            scalar = re.fullmatch(_INTERVAL, first)
            listed = re.fullmatch(r"at least (\d+) items?, each in " + _INTERVAL, first)
            m = scalar or listed
            if m is None:
                continue
            lo_b, lo, hi, hi_b = m.groups()[-4:]
            kind = p.type.removeprefix("list[").removesuffix("]")
            probes = _probes(kind, _bound(lo, d), _bound(hi, d), lo_b == "(", hi_b == ")")
            for value, inside, side in probes:
                values = dict(d)
                if listed:
                    items = list(d[p.name])
                    items[side] = value
                    values[p.name] = items
                else:
                    values[p.name] = value
                said = _outcome(module, values, p.name)
                n_probes += 1
                if inside and said is not None and not any(said.startswith(r) for r in rules):
                    bad.append(
                        f"{cid} ({profile}): {p.name} = {values[p.name]} refused ({said}); "
                        f"shown {shown}"
                    )
                if not inside and said is None:
                    bad.append(
                        f"{cid} ({profile}): {p.name} = {values[p.name]} accepted; shown {shown}"
                    )
            if listed and int(listed.group(1)) > 1:
                values = dict(d, **{p.name: list(d[p.name])[: int(listed.group(1)) - 1]})
                n_probes += 1
                if _outcome(module, values, p.name) is None:
                    bad.append(f"{cid}: {p.name} = {values[p.name]} accepted; shown {shown}")
    assert n_probes > 200
    assert not bad, "\n".join(bad)


def test_a_bound_set_by_the_user_names_the_unset_parameter_it_excludes_and_the_fix():
    from dropout_study.book import source

    spec = source.load("linearity")
    budget = params.resolve(spec, "book")["budget"]
    with pytest.raises(ValueError) as info:
        params.resolve(spec, "book", {"max_steps": budget - 1})
    text = str(info.value)
    assert text.startswith(f"The 'budget' parameter of linearity must be an int in the range "
                           f"[1, max_steps = {budget - 1}]; got {budget}.")  # fmt: skip
    assert text.endswith(f"(budget was not set: {budget} is its book-profile value; set -p "
                         "budget=… or change max_steps.)")  # fmt: skip
    with pytest.raises(ValueError) as info:  # both set: the plain message, no hint
        params.resolve(spec, "book", {"max_steps": budget - 1, "budget": budget})
    assert "was not set" not in str(info.value)
    with pytest.raises(ValueError) as info:  # the user's own bad value: no hint either
        params.resolve(spec, "book", {"budget": 0})
    assert "was not set" not in str(info.value)


def test_derived_lists_the_unset_parameters_that_followed_the_users_values():
    from dropout_study.book import source

    spec = source.load("cost-under-dropout")
    plain = params.resolve(spec, "book")
    rates = [0.0, next(r for r in plain["dropout_rates"] if r not in (0.0, plain["primary_rate"]))]
    ov = {"dropout_rates": rates}
    got = params.derived(spec, "book", ov, params.resolve(spec, "book", ov))
    assert list(got) == ["primary_rate"] and got["primary_rate"]["value"] in rates
    assert got["primary_rate"]["value"] != plain["primary_rate"]
    assert got["primary_rate"]["follows"] == ["dropout_rates"]  # the rule's own parent
    ov2 = {"dropout_rates": rates, "primary_rate": rates[1]}  # set by the user: not derived
    assert params.derived(spec, "book", ov2, params.resolve(spec, "book", ov2)) == {}
    assert params.derived(spec, "book", {}, plain) == {}


def test_a_rule_naming_the_users_parameter_also_names_the_unset_one_and_the_fix():
    from dropout_study.book import source

    spec = source.load("dropout-paper")
    interior = params.resolve(spec, "book")["pn_interior"]
    with pytest.raises(ValueError) as info:  # a list whose only interior member is not it
        params.resolve(spec, "book", {"pn_rates": [0.0, interior / 2, 0.9]})
    text = str(info.value)
    assert text.startswith("The 'pn_interior' parameter of dropout-paper must be an interior "
                           "member of pn_rates")  # fmt: skip
    assert text.endswith(f"(pn_interior was not set: {interior} is its book-profile value; "
                         "set -p pn_interior=… or change pn_rates.)")  # fmt: skip
