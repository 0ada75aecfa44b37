"""One training step of the numpy MLP next to PyTorch on the CPU, side by side.

A step is: forward in training mode with inverted dropout p = 0.5 after every hidden layer,
mean loss (binary cross-entropy from logits for one output, softmax cross-entropy for ten),
backward, and a plain SGD update (lr = 0.01), in float32, on a fixed batch.

- numpy: exactly the body of :func:`dropout_study.training.train`'s loop (forward/backward into
  the layers' buffers, a finiteness check, the SGD step); before timing, the script checks that
  its steps leave the same parameters as ``train`` itself.
- PyTorch: the standard eager idiom — ``nn.Sequential(Linear, ReLU, Dropout, ..., Linear)``,
  ``nn.BCEWithLogitsLoss`` / ``nn.CrossEntropyLoss``, ``torch.optim.SGD``; per step
  ``zero_grad(); loss = loss_fn(model(X), y); loss.backward(); opt.step()`` (autograd on, as in
  training). SGD runs with whichever of ``foreach=False/True`` is faster here (measured in the
  warm-up), so PyTorch is not held back by a setting.

Both use the same number of threads (``--threads``, default: all cores): numpy's BLAS through
threadpoolctl, PyTorch through ``torch.set_num_threads``. Measurements are interleaved: every
round times a block of steps of each framework back to back (alternating which goes first), after
a warm-up; a block lasts about ``--block`` seconds. Reported per framework: the best block's
steps/s (the least disturbed by other work on a shared machine, as ``timeit`` advises) and the
median block's. The ratio numpy/torch is best over best — the conservative choice: PyTorch's
OpenMP threads suffer more than numpy from a busy machine, so medians under load flatter numpy —
with the median of the paired per-round ratios beside it. The last line is
``min ratio numpy/torch: X``, the smallest best-over-best ratio of the three networks.

Run: ``.venv/bin/python benchmarks/bench_mlp.py [--threads N] [--rounds R] [--block S]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dropout_study.mlp import MLP
from dropout_study.optim import SGD
from dropout_study.training import train

NETS = [([2, 64, 64, 1], 128), ([30, 256, 256, 1], 256), ([64, 512, 512, 10], 512)]
P = 0.5
LR = 0.01


def data(sizes, batch, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, max(2, sizes[-1]), batch)
    return X, y


# ---------------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------------
def numpy_model(sizes):
    head = "sigmoid" if sizes[-1] == 1 else "softmax"
    return MLP(sizes, head=head, dropout=P, rng=0, dtype=np.float32)


def numpy_stepper(sizes, batch):
    model = numpy_model(sizes)
    X, y = data(sizes, batch)
    X = model._check_X(X)  # what train() does once, before its loop
    y = model._head.targets(y, batch, sizes[-1], model.dtype)
    opt = SGD(LR)
    rng = np.random.default_rng(1)
    params, grads = model.params, model.grads
    losses = np.empty(1)

    def step():  # train()'s loop body for full-batch SGD without a penalty
        loss = model._loss_backward(X, y, True, None, rng)
        if not np.isfinite(loss):
            raise FloatingPointError(loss)
        losses[0] = loss
        opt.step(params, grads)

    return step, model


def check_numpy_step_is_train_step(sizes, batch, n=3):
    step, model = numpy_stepper(sizes, batch)
    for _ in range(n):
        step()
    ref = numpy_model(sizes)
    X, y = data(sizes, batch)
    train(ref, X, y, optimizer=SGD(LR), n_steps=n, mask_rng=np.random.default_rng(1))
    if not np.array_equal(ref.get_params(), model.get_params()):
        raise AssertionError("the benchmark's numpy step differs from train()'s step")


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------
def torch_stepper(sizes, batch, foreach: bool):
    torch.manual_seed(0)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(P)]
    model = torch.nn.Sequential(*layers).train()
    Xn, yn = data(sizes, batch)
    X = torch.from_numpy(Xn)
    if sizes[-1] == 1:
        y = torch.from_numpy(yn.astype(np.float32)).reshape(-1, 1)
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        y = torch.from_numpy(yn).long()
        loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR, foreach=foreach)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def rate(step, k: int) -> float:
    t0 = time.perf_counter()
    for _ in range(k):
        step()
    return k / (time.perf_counter() - t0)


def steps_per_block(step, seconds: float) -> int:
    r = max(rate(step, 3), rate(step, 3))
    return max(3, int(r * seconds))


def bench(sizes, batch, rounds: int, block: float):
    np_step, _ = numpy_stepper(sizes, batch)
    candidates = {fe: torch_stepper(sizes, batch, fe) for fe in (False, True)}
    for s in (np_step, *candidates.values()):  # warm-up
        rate(s, 5)
    k_t = {fe: steps_per_block(s, block / 2) for fe, s in candidates.items()}
    best_fe = max(candidates, key=lambda fe: max(rate(candidates[fe], k_t[fe]) for _ in range(2)))
    t_step = candidates[best_fe]
    k_np, k_torch = steps_per_block(np_step, block), steps_per_block(t_step, block)
    r_np, r_t, ratios = [], [], []
    for i in range(rounds):
        if i % 2 == 0:
            a = rate(np_step, k_np)
            b = rate(t_step, k_torch)
        else:
            b = rate(t_step, k_torch)
            a = rate(np_step, k_np)
        r_np.append(a)
        r_t.append(b)
        ratios.append(a / b)
    return {
        "numpy": statistics.median(r_np),
        "torch": statistics.median(r_t),
        "numpy_best": max(r_np),
        "torch_best": max(r_t),
        "ratio": max(r_np) / max(r_t),
        "paired_median_ratio": statistics.median(ratios),
        "foreach": best_fe,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds per network")
    ap.add_argument("--block", type=float, default=0.25, help="seconds per timed block")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [
            f"{i['internal_api']} {i.get('version', '')} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        print(
            f"threads: {args.threads} for both (numpy BLAS: {', '.join(blas)}; "
            f"torch {torch.__version__}: {torch.get_num_threads()} threads); "
            f"numpy {np.__version__}; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores"
        )
        print(
            f"float32, dropout p={P} after each hidden layer, SGD lr={LR}; {args.rounds} "
            f"interleaved rounds of ~{args.block:g} s blocks; steps/s of the best block "
            "[median block]; ratio of the best blocks (median of paired ratios)"
        )
        header = f"{'network':<16} {'batch':>5} {'numpy steps/s':>18} {'torch steps/s':>18}"
        print(header + f" {'numpy/torch':>18}")
        ratios = []
        for sizes, batch in NETS:
            check_numpy_step_is_train_step(sizes, batch)
            r = bench(sizes, batch, args.rounds, args.block)
            ratios.append(r["ratio"])
            name = "→".join(map(str, sizes))
            np_s = f"{r['numpy_best']:.0f} [{r['numpy']:.0f}]"
            t_s = f"{r['torch_best']:.0f} [{r['torch']:.0f}]"
            ratio = f"{r['ratio']:.2f} ({r['paired_median_ratio']:.2f})"
            fe = "foreach" if r["foreach"] else "for-loop"
            print(f"{name:<16} {batch:>5} {np_s:>18} {t_s:>18} {ratio:>18}  torch SGD {fe}")
        print(f"min ratio numpy/torch: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
