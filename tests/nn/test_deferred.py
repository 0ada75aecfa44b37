"""Cells whose train() calls train together (nn.deferred): the same numbers as one at a time.

Oracle: each cell run alone, ``train_cell(cell)`` (so every train() call trains a stack of
one), compared bit for bit with the cell's outcome from ``run_cells``. A spy on ``run_jobs``
records the stacks the scheduler formed, so that each test also checks that stacking really
happened (a test that passes because nothing was stacked would prove nothing).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from fixtures.stack_cells import assert_same, data, spec, train_cell

from dropout_study.nn import deferred
from dropout_study.nn.deferred import Outcome, plan, run_cells, unpack
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import Adam
from dropout_study.nn.training import TrainingDiverged, train


@pytest.fixture
def stacks(monkeypatch):
    """The sizes of the stacks ``run_cells`` trains, in order."""
    sizes: list[int] = []
    real = deferred.run_jobs

    def spy(jobs, on_divergence="return"):
        sizes.append(len(jobs))
        return real(jobs, on_divergence)

    monkeypatch.setattr(deferred, "run_jobs", spy)
    return sizes


def alone(cells):
    return [train_cell(c) for c in cells]


def check(cells, outcomes):
    for c, ref, got in zip(cells, alone(cells), outcomes, strict=True):
        assert got.error is None, got.error
        assert_same(got.value, ref, f"cell {c['seed']}")


# Cells of one key whose networks differ in everything a stack allows: optimiser settings,
# penalty (L1 proximal for SGD, scaled for Adam, sub-gradient, L2), dropout or none, stopping
# rule or none, checkpoints. Each cell trains two networks in turn.
MIXES = {
    "adam, minibatch": [
        [spec(pen="l2"), spec(pen="none", p=0.5)],
        [spec(pen="l1-scaled", p=None, stop=2), spec(pen="l1-sub", lr=0.03)],
        [spec(pen="l1-sub", stop=3, ckpts=[5]), spec(pen="l2", p=0.0, stop=1)],
        [spec(pen="none", p=0.1), spec(pen="l1-scaled", p=0.2, ckpts=[])],
    ],
    "sgd, full batch": [
        [spec(opt="sgd", lr=0.2, batch=None, pen="l1-prox"), spec(opt="sgd", batch=None, lr=0.1)],
        [spec(opt="sgd", lr=0.3, batch=None, p=None, stop=2),
         spec(opt="sgd", batch=None, lr=0.1, pen="l2", mu=0.9)],
        [spec(opt="sgd", lr=0.1, batch=None, pen="l1-sub", mu=0.5),
         spec(opt="sgd", batch=None, lr=0.05, pen="l1-prox", stop=1)],
    ],
    "sgd minibatch and softmax": [
        [spec(opt="sgd", lr=0.2, pen="l1-prox", sizes=[3, 8, 3]), spec(opt="sgd", mu=0.9)],
        [spec(opt="sgd", lr=0.1, sizes=[3, 8, 3], stop=2), spec(opt="sgd", pen="l2", p=None)],
    ],
}  # fmt: skip


@pytest.mark.parametrize("mix", MIXES)
def test_cells_stacked_equal_cells_alone(mix, stacks):
    cells = [{"seed": s, "nets": nets} for s, nets in enumerate(MIXES[mix])]
    check(cells, run_cells(train_cell, cells))
    assert max(stacks) == len(cells)  # every cell's network in one stack, round after round
    stops = [r["stopped_at"] for o in alone(cells) for r in o]
    assert len(set(stops)) > 1  # some networks stopped early, others did not


def test_a_network_is_bit_identical_in_stacks_of_1_7_and_64_through_the_batcher(stacks):
    target = {"seed": 500, "nets": [spec(pen="l1-scaled", stop=3, ckpts=[10, 30])]}
    rng = np.random.default_rng(0)
    others = [
        {"seed": int(s), "nets": [spec(pen=str(rng.choice(["none", "l2", "l1-sub", "l1-scaled"])),
                                       p=float(rng.choice([0.0, 0.2, 0.5])),
                                       lr=float(rng.choice([0.003, 0.01, 0.03])),
                                       stop=[None, 1, 4][int(s) % 3])]}
        for s in rng.choice(400, 63, replace=False)
    ]  # fmt: skip
    ref = train_cell(target)
    for size, cells in [(1, [target]), (7, [*others[:3], target, *others[3:6]]),
                        (64, [*others[:20], target, *others[20:]])]:  # fmt: skip
        stacks.clear()
        got = run_cells(train_cell, cells)[cells.index(target)]
        assert stacks == [size]
        assert_same(got.value, ref, f"stack of {size}")


def test_cells_of_different_keys_train_in_separate_stacks(stacks):
    nets = [
        [spec()],
        [spec(steps=30)],  # another step budget
        [spec(sizes=[3, 12, 1])],  # another architecture
        [spec(opt="sgd", lr=0.1)],  # another optimiser
        [spec(batch=None)],  # full batch
        [spec(lr=0.02)],  # the first cell's key again
        [spec(batch=None, average=3)],  # mask averaging (full batch)
        [spec(batch=None, average=3, lr=0.03)],
        [spec(batch=None, fixed=2)],  # fixed masks (two sets: the data twice)
        [spec(batch=None, fixed=2, p=0.5)],
        [spec(batch=None, fixed=3)],  # three sets: another shape of data
    ]
    cells = [{"seed": s, "nets": n} for s, n in enumerate(nets)]
    check(cells, run_cells(train_cell, cells))
    assert sorted(stacks) == [1, 1, 1, 1, 1, 2, 2, 2]


def test_a_cell_that_raises_fails_alone(stacks):
    cells = [{"seed": s, "nets": [spec(), spec(p=0.1)]} for s in range(4)]
    cells[1]["fail"] = True
    out = run_cells(train_cell, cells)
    assert isinstance(out[1].error, ValueError) and "cell 1 fails on purpose" in str(out[1].error)
    assert "In the cell" in "".join(getattr(out[1].error, "__notes__", []))
    ok = [0, 2, 3]
    check([cells[i] for i in ok], [out[i] for i in ok])
    assert stacks == [4, 3]  # the second round without the failed cell


def test_a_diverging_network_raises_in_its_own_cell_with_train_s_message(stacks):
    bad = spec(opt="sgd", lr=1e6, p=None)
    cells = [{"seed": 0, "nets": [spec(opt="sgd")]}, {"seed": 1, "nets": [bad]},
             {"seed": 2, "nets": [bad, spec(opt="sgd", lr=0.2)], "catch": True}]  # fmt: skip
    out = run_cells(train_cell, cells)
    with pytest.raises(TrainingDiverged) as ref:
        train_cell(cells[1])
    assert isinstance(out[1].error, TrainingDiverged)
    assert str(out[1].error).splitlines()[0] == str(ref.value)
    check([cells[0], cells[2]], [out[0], out[2]])
    assert out[2].value[0]["diverged"].startswith("The loss")
    assert stacks[0] == 3


def test_cells_run_one_at_a_time_and_train_outside_trains_at_once():
    """A cell's own code never runs while another cell's does (each pauses in train)."""
    busy, overlaps = [None], []

    def section(i):
        if busy[0] is not None:
            overlaps.append((busy[0], i))
        busy[0] = i
        time.sleep(0.002)  # time for another thread to run, if any could
        busy[0] = None

    def cell(c):
        section(c["seed"])
        model = MLP([3, 5, 1], dropout=0.2, rng=c["seed"])
        X, y = data(c["seed"], 30)
        train(model, X, y, optimizer=Adam(0.01), n_steps=5, mask_rng=c["seed"])
        section(c["seed"])
        assert deferred.current() is not None
        return model.get_params()

    cells = [{"seed": s} for s in range(6)]
    got = run_cells(cell, cells)
    assert overlaps == [] and all(o.error is None for o in got)
    assert deferred.current() is None  # outside: train() trains at once
    model = MLP([3, 5, 1], dropout=0.2, rng=2)
    X, y = data(2, 30)
    train(model, X, y, optimizer=Adam(0.01), n_steps=5, mask_rng=2)
    assert got[2].value.tobytes() == model.get_params().tobytes()


def test_plan_cuts_cells_into_balanced_consecutive_groups():
    assert plan(0, 2) == []
    assert [list(g) for g in plan(5, 2)] == [[0, 1, 2], [3, 4]]
    assert [len(g) for g in plan(72, 2)] == [36, 36]
    assert [len(g) for g in plan(200, 2)] == [50] * 4
    assert [len(g) for g in plan(3, 8)] == [1, 1, 1]
    assert [len(g) for g in plan(130, 1)] == [44, 43, 43]


def test_unpack_keeps_a_group_s_finished_cells_before_raising_its_error():
    groups = [[0, 1], [2, 3]]
    outs = [[Outcome(value="a"), Outcome(error=KeyError("x"))], [Outcome(value="c")] * 2]
    got = []
    with pytest.raises(KeyError):
        for i, v in unpack(groups, outs):
            got.append((i, v))
    assert got == [(0, "a")]


def test_run_cells_validation():
    with pytest.raises(TypeError, match="'fn' parameter of run_cells must be a callable"):
        run_cells("nope", [])
    with pytest.raises(ValueError, match="'max_stack' parameter of run_cells"):
        run_cells(train_cell, [], max_stack=0)
