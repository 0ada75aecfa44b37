"""Randomness: independent ``numpy.random.Generator`` streams spawned from one seed.

A run's seed is turned into a :class:`numpy.random.SeedSequence` and spawned into independent
streams, one per purpose, always in the same order:

``split`` (data split and data generation), ``init`` (weights), ``masks`` (dropout masks),
``batches`` (minibatch order), ``measure`` (random directions and probes of the measures).

Two runs that differ only in the dropout rate or a penalty's λ therefore share their data,
initial weights and batch order (common random numbers), and differ only where they must.
A sweep over several seeds spawns one child sequence per replicate with :func:`replicates`.
Nothing here touches numpy's global random state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_study.validation import check_int, fail

__all__ = ["Streams", "STREAM_NAMES", "SEED_MAX", "streams", "replicate", "replicates"]

STREAM_NAMES = ("split", "init", "masks", "batches", "measure")
_REPLICATE_KEY = 1_000_003  # keeps replicate seeds apart from the streams of the seed itself


@dataclass(frozen=True)
class Streams:
    """One Generator per purpose (see module docstring)."""

    split: np.random.Generator
    init: np.random.Generator
    masks: np.random.Generator
    batches: np.random.Generator
    measure: np.random.Generator


SEED_MAX = 2**32 - 1
"""The largest seed a chapter accepts: seeds are kept in JSON (metrics, confirmations), whose
common readers hold integers exactly only up to 2**53; 2**32 - 1 is the usual bound."""


def _seed_sequence(seed, owner: str) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        fail("seed", owner, "a non-negative int or a numpy.random.SeedSequence", seed, TypeError)
    return np.random.SeedSequence(check_int(seed, "seed", owner, low=0, high=SEED_MAX))


def streams(seed) -> Streams:
    """Fresh, independent streams for a seed (an int ``>= 0`` or a ``SeedSequence``).

    Calling it twice with the same seed gives generators in identical states.
    """
    ss = _seed_sequence(seed, "streams")
    # spawn() on a SeedSequence advances its child counter; use a copy so the same
    # SeedSequence object always yields the same streams.
    ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key)
    children = ss.spawn(len(STREAM_NAMES))
    return Streams(*(np.random.default_rng(c) for c in children))


def replicate(seed, i: int) -> np.random.SeedSequence:
    """Replicate ``i``'s child seed of ``seed``: the same as ``replicates(seed, n)[i]`` for any
    ``n > i``."""
    ss = _seed_sequence(seed, "replicate")
    i = check_int(i, "i", "replicate", low=0)
    # child i of SeedSequence(entropy, spawn_key=k) is SeedSequence(entropy, spawn_key=k+(i,))
    return np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (_REPLICATE_KEY, i))


def replicates(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of ``seed``, one per replicate of a sweep.

    Replicate ``i`` is the same for every ``n > i``, so adding seeds keeps the old ones.
    """
    ss = _seed_sequence(seed, "replicates")
    n = check_int(n, "n", "replicates", low=1)
    return [replicate(ss, i) for i in range(n)]
