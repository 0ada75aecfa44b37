"""One training step of the numpy MLP next to its peers, PyTorch (eager) and JAX (jitted).

A step is: forward in training mode with inverted dropout p = 0.5 after every hidden layer
(ReLU), mean loss (binary cross-entropy from logits for one output, softmax cross-entropy for
ten), backward, and an Adam update (lr = 1e-3, PyTorch's formulation, as the chapters use it),
on a fixed batch, in float32 and in float64. Networks: the chapters' own sizes and batches
(linearity and noisy-loss train 2→32→32→1 and 30→32→32→1 in batches of 64 and 32; a
64→128→128→10 digits-sized network) and the three earlier ones up to 64→512→512→10.

- numpy: :func:`dropout_study.nn.training.train` itself (a stack of one network), ``k`` steps
  per call, each call continuing with the same model, optimiser and mask stream; per call it
  also evaluates the batch twice (before the first and after the last step: about one step's
  work per block of hundreds). :func:`check_numpy_step_is_train_step` checks that blocks leave
  the parameters one ``train`` call of as many steps does (also a test).
- PyTorch: the standard eager idiom — ``nn.Sequential(Linear, ReLU, Dropout, ..., Linear)``,
  ``BCEWithLogitsLoss`` / ``CrossEntropyLoss``, ``torch.optim.Adam``; per step ``zero_grad();
  loss_fn(model(X), y).backward(); opt.step()``. Adam runs with whichever of its for-loop,
  ``foreach`` and ``fused`` implementations is fastest here (measured in the warm-up).
- JAX: the same network as a pure function, ``jax.value_and_grad`` of the loss with dropout
  masks from ``jax.random.bernoulli``, and the Adam update, all in one ``jax.jit``-compiled
  step with the parameters and Adam state donated (updated in place); timed blocks wait for the
  last step's result (``block_until_ready``).
- floor: the step's matrix products alone (forward ``X W``, backward ``Xᵀ dY`` and ``dY Wᵀ``)
  with numpy into preallocated outputs — the BLAS-bound time below which no step on this BLAS
  can go; ``step/floor`` shows the share of a numpy step spent outside them.

All use the same number of threads (``--threads``, default: all cores): numpy's BLAS through
threadpoolctl and its Adam updates of at least :data:`dropout_study.nn.optim.THREADED_MIN`
parameters through :func:`dropout_study.nn.optim.set_threads`, PyTorch through
``torch.set_num_threads``, XLA through its flags (one thread:
``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``, set before jax is
imported). Measurements are interleaved: each round times a block of steps of every framework
back to back (rotating which goes first), after a warm-up; a block lasts about ``--block``
seconds. Reported: steps/s of each framework's best block (the least disturbed by other work on
a shared machine, as ``timeit`` advises), and ``numpy/fastest``, numpy's best steps/s divided by
the fastest peer's (> 1: numpy is faster), with the median of the per-round paired ratios beside
it, and the same ratio by CPU time (steps per CPU second of the process, all its threads — less
sensitive than wall time to other work on a shared machine, and fair to JAX's dispatch
thread). The last line is ``min ratio numpy/fastest peer: X`` over every network and dtype.

Run: ``.venv/bin/python benchmarks/bench_mlp.py [--threads N] [--rounds R] [--block S]
[--dtype float32|float64|both] [--peers torch,jax]`` (peers: ``pip install -e '.[bench]'``).

Where a numpy step's time goes, and what limits it (HACKING.md, "Speed of the numpy step",
has the tables): on the chapters' small networks (≤ 32×32 hidden units) the matrix products
are a sixth of the step; the rest is about 60 ufunc calls at 1–2 µs of dispatch each (Python
and numpy overhead, not arithmetic), so numpy wins there because JAX's per-call dispatch is
larger still. On the large networks the step is the BLAS floor plus one memory pass per
elementwise operation — 13 per Adam update (each a separate rounding of the formula, kept so
float64 numbers stay bit-identical), about 8 per hidden layer, and the dropout masks'
random bits (16 per unit, about 3 ns per 64-bit word of PCG64) — all in one thread unless
:func:`dropout_study.nn.optim.set_threads` shares Adam; XLA fuses each of these into one pass.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from dropout_study.nn import optim
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import Adam
from dropout_study.nn.training import train

# (name, layer sizes, batch)
NETS = [
    ("linearity, moons", [2, 32, 32, 1], 64),
    ("noisy-loss", [2, 32, 32, 1], 32),
    ("linearity, cancer", [30, 32, 32, 1], 64),
    ("digits-sized", [64, 128, 128, 10], 64),
    ("earlier", [2, 64, 64, 1], 128),
    ("earlier", [30, 256, 256, 1], 256),
    ("earlier", [64, 512, 512, 10], 512),
]
P = 0.5
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8


def data(sizes, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.integers(0, max(2, sizes[-1]), batch)
    return X, y


# ---------------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------------
def numpy_model(sizes, dtype):
    head = "sigmoid" if sizes[-1] == 1 else "softmax"
    return MLP(sizes, head=head, dropout=P, rng=0, dtype=dtype)


def numpy_blocks(sizes, batch, dtype):
    """``(block, model)``: ``block(k)`` trains ``model`` ``k`` more steps with ``train``."""
    model = numpy_model(sizes, dtype)
    X, y = data(sizes, batch, dtype)
    opt = Adam(LR, *BETAS, EPS)
    rng = np.random.default_rng(1)

    def block(k):
        train(model, X, y, optimizer=opt, n_steps=k, eval_every=k, mask_rng=rng)

    return block, model


def check_numpy_step_is_train_step(sizes, batch, dtype, n=3) -> None:
    """Raise AssertionError unless blocks of ``1`` and ``n - 1`` benchmark steps leave the
    parameters one ``train`` call of ``n`` steps does."""
    block, model = numpy_blocks(sizes, batch, dtype)
    block(1)
    block(n - 1)
    ref = numpy_model(sizes, dtype)
    X, y = data(sizes, batch, dtype)
    opt = Adam(LR, *BETAS, EPS)
    train(ref, X, y, optimizer=opt, n_steps=n, mask_rng=np.random.default_rng(1))
    if not np.array_equal(ref.get_params(), model.get_params()):
        raise AssertionError("the benchmark's numpy step differs from train()'s step")


def floor_stepper(sizes, batch, dtype):
    """The step's matrix products alone, into preallocated outputs."""
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((a, b)).astype(dtype) for a, b in zip(sizes, sizes[1:], strict=False)]
    hs = [rng.standard_normal((batch, w)).astype(dtype) for w in sizes]
    gs = [np.empty_like(h) for h in hs]
    dWs = [np.empty_like(W) for W in Ws]

    def step():
        for i, W in enumerate(Ws):
            np.matmul(hs[i], W, out=hs[i + 1] if i + 1 < len(Ws) else gs[-1])
        for i in reversed(range(len(Ws))):
            np.matmul(hs[i].T, gs[i + 1], out=dWs[i])
            if i > 0:
                np.matmul(gs[i + 1], Ws[i].T, out=gs[i])

    return step


# ---------------------------------------------------------------------------------------------
# PyTorch (eager)
# ---------------------------------------------------------------------------------------------
def torch_steppers(sizes, batch, dtype):
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    Xn, yn = data(sizes, batch, dtype)
    X = torch.from_numpy(Xn)
    if sizes[-1] == 1:
        y = torch.from_numpy(yn.astype(dtype)).reshape(-1, 1)
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        y = torch.from_numpy(yn).long()
        loss_fn = torch.nn.CrossEntropyLoss()

    def make(kind):
        torch.manual_seed(0)
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=tdtype))
            if i < len(sizes) - 2:
                layers += [torch.nn.ReLU(), torch.nn.Dropout(P)]
        model = torch.nn.Sequential(*layers).train()
        opts = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}}
        opts["fused"] = {"fused": True}
        opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS, **opts[kind])

        def step():
            opt.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            opt.step()

        return step

    out = {}
    for kind in ("for-loop", "foreach", "fused"):
        try:
            s = make(kind)
            s()
        except (RuntimeError, TypeError, ValueError):  # an implementation this build lacks
            continue
        out[kind] = s
    return out


# ---------------------------------------------------------------------------------------------
# JAX (jitted)
# ---------------------------------------------------------------------------------------------
def jax_stepper(sizes, batch, dtype):
    import jax
    import jax.numpy as jnp

    Xn, yn = data(sizes, batch, dtype)
    X = jnp.asarray(Xn)
    binary = sizes[-1] == 1
    y = jnp.asarray(yn.astype(dtype).reshape(-1, 1) if binary else yn.astype(np.int32))
    rng = np.random.default_rng(0)
    params = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        W = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype)
        params.append((jnp.asarray(W), jnp.zeros(b, dtype=dtype)))
    b1, b2 = BETAS
    keep = 1.0 - P

    def loss_fn(params, key):
        h = X
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
                key, sub = jax.random.split(key)
                m = jax.random.bernoulli(sub, keep, h.shape)
                h = jnp.where(m, h / keep, jnp.zeros((), dtype))
        if binary:  # mean binary cross-entropy from logits
            return jnp.mean(jax.nn.softplus(h) - y * h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step(state, key):
        params, m, v, t = state
        key, sub = jax.random.split(key)
        loss, g = jax.value_and_grad(loss_fn)(params, sub)
        t = t + 1
        bc1 = (1.0 - b1**t).astype(dtype)
        bc2 = jnp.sqrt(1.0 - b2**t).astype(dtype)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        params = jax.tree.map(
            lambda p, m, v: p - (LR / bc1) * m / (jnp.sqrt(v) / bc2 + EPS), params, m, v
        )
        return (params, m, v, t), key, loss

    zeros = jax.tree.map(jnp.zeros_like, params)
    state = [(params, zeros, jax.tree.map(jnp.zeros_like, params), jnp.zeros((), jnp.int32))]
    keyref = [jax.random.key(1)]
    jstep = jax.jit(step, donate_argnums=(0,))

    def run():
        state[0], keyref[0], loss = jstep(state[0], keyref[0])
        return loss

    def block(k):
        for _ in range(k - 1):
            run()
        run().block_until_ready()

    return block


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def as_block(step):
    """A step function → ``block(k)``: run ``k`` steps (and wait for their results)."""

    def block(k):
        for _ in range(k):
            step()

    return block


def rate(block, k: int, cpu: list | None = None) -> float:
    """Steps per wall-clock second of ``k`` steps; appends steps per CPU second of this
    process (all its threads) to ``cpu`` if given."""
    c0, t0 = time.process_time(), time.perf_counter()
    block(k)
    t1, c1 = time.perf_counter(), time.process_time()
    if cpu is not None:
        cpu.append(k / max(c1 - c0, 1e-9))
    return k / (t1 - t0)


def steps_per_block(block, seconds: float) -> int:
    r = max(rate(block, 3), rate(block, 3))
    return max(3, int(r * seconds))


def bench(sizes, batch, dtype, peers, rounds: int, block_s: float) -> dict:
    blocks = {"numpy": numpy_blocks(sizes, batch, dtype)[0]}
    notes = {}
    if "torch" in peers:
        cands = {k: as_block(s) for k, s in torch_steppers(sizes, batch, dtype).items()}
        for b in cands.values():
            rate(b, 5)
        k = {name: steps_per_block(b, block_s / 2) for name, b in cands.items()}
        best = max(cands, key=lambda n: max(rate(cands[n], k[n]) for _ in range(2)))
        blocks["torch"] = cands[best]
        notes["torch"] = f"Adam {best}"
    if "jax" in peers:
        blocks["jax"] = jax_stepper(sizes, batch, dtype)
    blocks["floor"] = as_block(floor_stepper(sizes, batch, dtype))
    for b in blocks.values():  # warm-up (and JAX's compilation)
        rate(b, 5)
    k = {name: steps_per_block(b, block_s) for name, b in blocks.items()}
    names = list(blocks)
    rates = {n: [] for n in names}
    cpu_rates = {n: [] for n in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for n in order:
            rates[n].append(rate(blocks[n], k[n], cpu_rates[n]))
    best = {n: max(r) for n, r in rates.items()}
    best_cpu = {n: max(r) for n, r in cpu_rates.items()}
    peer_names = [n for n in names if n not in ("numpy", "floor")]
    out = {"best": best, "notes": notes}
    if peer_names:
        fastest = max(peer_names, key=lambda n: best[n])
        out["fastest"] = fastest
        out["ratio"] = best["numpy"] / best[fastest]
        paired = [a / max(rates[n][i] for n in peer_names) for i, a in enumerate(rates["numpy"])]
        out["paired"] = statistics.median(paired)
        fastest_cpu = max(peer_names, key=lambda n: best_cpu[n])
        out["cpu_ratio"] = best_cpu["numpy"] / best_cpu[fastest_cpu]
        out["fastest_cpu"] = fastest_cpu
    out["over_floor"] = best["floor"] / best["numpy"]  # step time / floor time
    return out


def _xla_threads(threads: int) -> None:
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for all")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per network")
    ap.add_argument("--block", type=float, default=0.2, help="seconds per timed block")
    ap.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    ap.add_argument("--peers", default="torch,jax", help="comma-separated: torch, jax")
    ap.add_argument("--nets", default="", help="comma-separated indices into NETS (default all)")
    args = ap.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    _xla_threads(args.threads)
    optim.set_threads(args.threads)  # large Adam updates shared among the same threads
    versions = [f"numpy {np.__version__}"]
    if "torch" in peers:
        import torch

        torch.set_num_threads(args.threads)
        versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    if "jax" in peers:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 steps; float32 arrays stay float32
        versions.append(f"jax {jax.__version__} (XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r})")
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    nets = [NETS[int(i)] for i in args.nets.split(",")] if args.nets else NETS
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [
            f"{i['internal_api']} {i.get('version', '')} {i.get('architecture', '')} "
            f"({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        print(f"threads: {args.threads} for all; numpy BLAS: {', '.join(blas)}")
        print(f"{'; '.join(versions)}; {platform.machine()}, {os.cpu_count()} cores")
        print(
            f"dropout p={P} after each hidden layer (ReLU), Adam lr={LR:g}; {args.rounds} "
            f"interleaved rounds of ~{args.block:g} s blocks; steps/s of the best block; "
            "numpy/fastest = numpy's best ÷ the fastest peer's (median of paired ratios), "
            "by wall and by CPU time; "
            "step/floor = numpy step time ÷ time of its matrix products alone"
        )
        cols = ["numpy", *peers]
        head = f"{'network':<18} {'sizes':<16} {'batch':>5} {'dtype':<7} "
        head += " ".join(f"{c:>8}" for c in cols)
        print(
            head + f" {'numpy/fastest':>18} {'by CPU time':>16} {'step/floor':>10}  notes",
            flush=True,
        )
        ratios = []
        for name, sizes, batch in nets:
            for dtype in dtypes:
                check_numpy_step_is_train_step(sizes, batch, dtype)
                r = bench(sizes, batch, dtype, peers, args.rounds, args.block)
                arch = "→".join(map(str, sizes))
                line = f"{name:<18} {arch:<16} {batch:>5} {np.dtype(dtype).name:<7} "
                line += " ".join(f"{r['best'][c]:>8.0f}" for c in cols)
                if "ratio" in r:
                    ratios.append(r["ratio"])
                    rs = f"{r['ratio']:.2f} ({r['paired']:.2f}) {r['fastest']}"
                    rc = f"{r['cpu_ratio']:.2f} {r['fastest_cpu']}"
                else:
                    rs = rc = "–"
                line += f" {rs:>18} {rc:>16} {r['over_floor']:>10.2f}"
                line += f"  {'; '.join(r['notes'].values())}"
                print(line, flush=True)
        if ratios:
            print(f"min ratio numpy/fastest peer: {min(ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
