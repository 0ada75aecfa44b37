"""Test helpers shared by the test modules (importable as ``helpers``: ``tests`` is on
pytest's ``pythonpath``): the PyTorch and browser requirements, central finite differences,
relative errors, random parameters, and a chapter's parameters read from its notebook.

PyTorch is an optional oracle. Tests that need it take the ``torch`` fixture (``conftest``):
without torch they skip, unless ``DROPOUT_STUDY_REQUIRE_TORCH=1`` is set (CI sets it after
installing torch), in which case a missing torch FAILS them, so an oracle can never silently
stop running.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
"""The project checkout the tests run in."""

REQUIRE_TORCH_ENV = "DROPOUT_STUDY_REQUIRE_TORCH"
REQUIRE_BROWSER_ENV = "DROPOUT_STUDY_REQUIRE_BROWSER"


def browser_required(environ=None) -> bool:
    """In CI (``CI=true``) or with ``DROPOUT_STUDY_REQUIRE_BROWSER=1`` (set by .ci/run) the
    browser tests must run: a missing Chromium or Playwright is a failure, not a skip."""
    environ = os.environ if environ is None else environ
    return environ.get(REQUIRE_BROWSER_ENV, "") not in ("", "0") or environ.get(
        "CI", ""
    ).lower() in ("true", "1", "yes")


def chromium_or_skip(environ=None) -> str:
    """Debian's Chromium, driven by Playwright: its path, or skip (fail when required)."""
    from dropout_study.book.browser import find_chromium

    environ = os.environ if environ is None else environ
    missing = []
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError as exc:
        missing.append(f"Playwright ({exc}; pip install -e '.[browser]')")
    exe = find_chromium()
    if exe is None:
        missing.append("Chromium (apt-get install -y --no-install-recommends chromium)")
    if missing:
        what = " and ".join(missing)
        if browser_required(environ):
            pytest.fail(f"the browser test is required here but needs {what}", pytrace=False)
        pytest.skip(f"browser test skipped: no {what}; CI runs it (.ci/run)")
    return exe


def import_torch_or_skip(environ=None):
    """Import torch; if it is missing, skip — or fail when the environment requires it."""
    environ = os.environ if environ is None else environ
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        if environ.get(REQUIRE_TORCH_ENV, "") not in ("", "0"):
            pytest.fail(
                f"{REQUIRE_TORCH_ENV}={environ[REQUIRE_TORCH_ENV]} but torch cannot be imported "
                f"({exc}); install it at the oracle extra's pin: make oracle",
                pytrace=False,
            )
        pytest.skip(f"PyTorch oracle not installed ({exc}); set {REQUIRE_TORCH_ENV}=1 to require")


def central_diff(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` of a scalar ``f``.

    ``x`` is a float64 array of any shape (not modified); returns an array of its shape.
    """
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x.copy())
        flat[i] = old - h
        fm = f(x.copy())
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g


def rel_error(a, b) -> float:
    """``‖a − b‖ / max(‖a‖, ‖b‖)`` (0 when both are 0): the tolerance measure of FD checks."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    denom = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def randomise(model, rng, scale: float = 0.5) -> np.ndarray:
    """Give every parameter (biases too) a random value so that no sample sits on a ReLU kink
    (zero biases plus all-dropped units put pre-activations exactly at 0). Returns θ."""
    theta = model.get_params() + scale * rng.standard_normal(model.n_params)
    model.set_params(theta)
    return theta


def chapter_params(chapter_id: str, profile: str = "book", **overrides) -> dict:
    """The complete parameters of ``chapter_id`` at ``profile`` (its notebook's parameters cell,
    the profile's values from its front matter) with ``overrides`` on top — what the book
    hands a chapter's experiment. Not checked (tests check them)."""
    from dropout_study.book import params, source

    return {**params.resolve(source.load(chapter_id), profile, check=False), **overrides}


CLAIM_WORDS = (
    "rise",
    "rises",
    "rising",
    "fall",
    "falls",
    "falling",
    "grow",
    "grows",
    "growing",
    "increase",
    "increases",
    "increasing",
    "decrease",
    "decreases",
    "decreasing",
    "higher",
    "lower",
    "larger",
    "smaller",
    "faster",
    "slower",
    "sparser",
    "noisier",
    "smoother",
    "better",
    "worse",
    "improves",
    "improved",
    "hurts",
    "helps",
    "shrinks",
    "because",
    "therefore",
    "hence",
    "thus",
    "so",
    "due",
    "causes",
    "caused",
    "explains",
    "holds",
    "fails",
    "confirms",
    "confirmed",
    "contradicts",
    "supported",
    "shown",
)
"""Direction, comparison and causal words that a rerun could contradict (STUDY.md: "No
hand-typed findings"). In a chapter's prose they must come from glue, or be method prose on
the allow-list passed to :func:`typed_claim_words`."""

METHOD_PHRASES = ("so that", "and so on", "the larger of", "larger than the margin")
"""Method prose that uses a claim word without reporting a result."""


def typed_claim_words(md_text: str, allow=()) -> list[str]:
    """Claim words typed into a chapter notebook's prose (markdown cells, outside code
    fences, inline code, maths, glue roles, cross-references, HTML comments, quotations in
    double quotes and the front matter), each with a few words of context; phrases in
    ``METHOD_PHRASES`` and in ``allow`` (lower case) are method prose and skipped."""
    import re

    text = md_text
    if text.startswith("---"):
        text = text.split("\n---", 1)[1]
    text = re.sub(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", " ", text, flags=re.S | re.M)
    text = re.sub(r"^:::.*?$", " ", text, flags=re.M)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text, flags=re.S)
    text = re.sub(r"\{[a-z:-]+\}`[^`]*`", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"“[^”]*”|\"[^\"\n]*\"", " ", text)  # quotations of the sources
    low = " ".join(text.lower().split())
    for phrase in (*METHOD_PHRASES, *allow):
        low = low.replace(phrase.lower(), " ")
    found = []
    words = re.findall(r"[a-zà-ÿ]+(?:-[a-z]+)*", low)
    for i, w in enumerate(words):
        if w in CLAIM_WORDS:
            found.append(" ".join(words[max(0, i - 4) : i + 5]))
    return found


def one_line(text: str) -> str:
    """``text`` after asserting it is exactly one line (the project's error contract)."""
    assert text.count("\n") == 1, text
    return text
