"""Fixtures shared by the tests; the helpers they use live in ``helpers``."""

from __future__ import annotations

import pytest
from helpers import chromium_or_skip, import_torch_or_skip


@pytest.fixture(scope="session")
def chromium():
    """Path of the Chromium the browser tests drive (see :func:`chromium_or_skip`)."""
    return chromium_or_skip()


@pytest.fixture(scope="session")
def torch():
    """The ``torch`` module, in float64 by default for the tests that use it."""
    return import_torch_or_skip()
