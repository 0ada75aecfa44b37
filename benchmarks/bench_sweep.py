"""A chapter's sweep (dozens of small networks side by side) by this package and its peers.

Workloads (:data:`WORKLOADS`): the linearity chapter's sweep named in issue 22 (64 networks
2→32→32→1 = 8 seeds × 8 dropout rates, ReLU, inverted dropout after each hidden layer, Adam
lr 0.01, batches of 64 from 640 moons points, sigmoid head) and chapter-like others: the same
on breast-cancer-sized inputs (30 features), a digits-sized softmax network (64→128→10,
dropout-paper-like rates), and full-batch gradient descent with momentum (noisy-loss-like).
Each trains every network of the sweep for ``--steps`` steps, each network with its own
initial weights, dropout rate and streams.

Implementations, all with one thread (numpy's BLAS through threadpoolctl, XLA through its
flags set before jax is imported, ``torch.set_num_threads(1)``), and the whole process pinned to
one core (``--no-pin`` to leave it free) so that no helper thread gives a peer a second core:

- ``alone``: this package, :func:`dropout_study.training.train` one network at a time (as the
  chapters run it), timed on the first ``--alone`` networks of the sweep;
- ``stack``: this package, :func:`dropout_study.nn.stack.train_stack` on all networks at once;
- ``jax-vmap``: the same training as a pure function, ``jax.lax.scan`` over the steps,
  ``jax.vmap`` over the networks, one ``jax.jit``; masks from ``jax.random.bernoulli`` with one
  key per network; minibatch indices computed beforehand (on the host, outside the timing);
- ``jax-scan``: ``jax.jit(scan)`` of one network, called for each of the first ``--alone``;
- ``torch-vmap``: ``torch.func.vmap`` of ``torch.func.grad_and_value`` of one network's loss
  over the stacked parameters (``randomness="different"``), and the optimiser's update on the
  stacked tensors, one eager step at a time.

Both numpy rows include what ``train`` always does and the peers skip: an evaluation on the
whole training set before the first and after the last step, and the per-step records.

Timing: compile time (JAX's ``lower().compile()``) is measured once and printed beside the
rates, not counted in them. Rounds are interleaved (each round trains the sweep once with every
implementation, in rotated order); reported is each implementation's best round in net-steps
per second (networks × steps / wall seconds), the ratio ``stack / fastest peer`` (the peers are
the JAX and PyTorch rows) and ``stack / alone``. The float64 rows decide (the chapters'
dtype); float32 rows are printed and summarised on the line before the last, which reads
``min ratio package/fastest peer: X``, the minimum over the float64 workloads.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--quick] [--steps N] [--rounds R]
[--alone M] [--dtype float32|float64|both] [--peers jax,torch] [--workloads 0,1]``
(peers: ``pip install -e '.[bench]'``; a missing peer is skipped with a note).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.stack import train_stack
from dropout_study.nn.training import train


@dataclass(frozen=True)
class Workload:
    name: str
    data: str  # moons, cancer, digits
    n: int  # training points
    sizes: tuple[int, ...]
    rates: tuple[float, ...]
    seeds: int
    opt: str  # adam | sgd (momentum 0.9)
    lr: float
    batch: int | None  # None: full batch

    @property
    def K(self) -> int:
        return len(self.rates) * self.seeds

    @property
    def head(self) -> str:
        return "sigmoid" if self.sizes[-1] == 1 else "softmax"


# Minibatch workloads use a training set of a whole number of batches (640 moons points where
# the issue says 600): the peers need batches of one size (static shapes), and train() would
# otherwise take the remainder as a smaller, cheaper batch.
WORKLOADS = [
    Workload("linearity, moons", "moons", 640, (2, 32, 32, 1),
             (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), 8, "adam", 0.01, 64),
    Workload("cancer-sized", "cancer", 320, (30, 32, 32, 1),
             (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), 8, "adam", 0.01, 64),
    Workload("digits, softmax", "digits", 384, (64, 128, 10),
             (0.0, 0.2, 0.4, 0.5, 0.6, 0.8), 4, "adam", 0.003, 32),
    Workload("full batch, momentum", "moons", 300, (2, 32, 32, 1),
             (0.0, 0.1, 0.2, 0.3, 0.5), 8, "sgd", 0.1, None),
]  # fmt: skip


def dataset(wl: Workload):
    """Standardised training inputs ``(n, d)`` (float64) and integer labels ``(n,)``."""
    from sklearn import datasets as skd

    if wl.data == "moons":
        X, y = skd.make_moons(wl.n, noise=0.25, random_state=0)
    else:
        X, y = (skd.load_breast_cancer if wl.data == "cancer" else skd.load_digits)(return_X_y=True)
        X, y = X[: wl.n], y[: wl.n]
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    return X, y


def networks(wl: Workload, dtype) -> list[MLP]:
    return [
        MLP(list(wl.sizes), head=wl.head, dropout=p, rng=seed, dtype=dtype)
        for seed in range(wl.seeds)
        for p in wl.rates
    ]


def optimizer(wl: Workload):
    return Adam(wl.lr) if wl.opt == "adam" else SGD(wl.lr, momentum=0.9)


# ---------------------------------------------------------------------------------------------
# This package
# ---------------------------------------------------------------------------------------------
def numpy_alone(wl, dtype, X, y, steps, m):
    def run():
        for k, model in enumerate(networks(wl, dtype)[:m]):
            train(
                model, X, y, optimizer=optimizer(wl), n_steps=steps, batch_size=wl.batch,
                eval_every=steps, mask_rng=100 + k, batch_rng=200 + k,
            )  # fmt: skip
        return m * steps

    return run


def numpy_stack(wl, dtype, X, y, steps):
    def run():
        train_stack(
            networks(wl, dtype), X, y, optimizers=optimizer(wl), n_steps=steps,
            batch_size=wl.batch, eval_every=steps, mask_rngs=[100 + k for k in range(wl.K)],
            batch_rngs=[200 + k for k in range(wl.K)],
        )  # fmt: skip
        return wl.K * steps

    return run


def check_stack_is_train(wl, dtype, X, y, steps=12) -> None:
    """Raise unless network 1 of the stacked sweep ends where ``train`` leaves it alone."""
    models = networks(wl, dtype)
    train_stack(
        models, X, y, optimizers=optimizer(wl), n_steps=steps, batch_size=wl.batch,
        mask_rngs=[100 + k for k in range(wl.K)], batch_rngs=[200 + k for k in range(wl.K)],
    )  # fmt: skip
    alone = networks(wl, dtype)[1]
    train(
        alone, X, y, optimizer=optimizer(wl), n_steps=steps, batch_size=wl.batch,
        mask_rng=101, batch_rng=201,
    )  # fmt: skip
    if not np.array_equal(alone.get_params(), models[1].get_params()):
        raise AssertionError(f"{wl.name}: the stacked network differs from train()'s")


def batch_indices(wl: Workload, n: int, steps: int, K: int) -> np.ndarray | None:
    """``(K, steps, batch)`` minibatch indices for the peers: a fresh permutation each epoch in
    ``n // batch`` batches (all of them: ``n`` is a multiple of the batch), or None."""
    if wl.batch is None:
        return None
    out = np.empty((K, steps, wl.batch), dtype=np.int32)
    per = n // wl.batch
    for k in range(K):
        rng = np.random.default_rng(200 + k)
        for e in range(-(-steps // per)):
            perm = rng.permutation(n)[: per * wl.batch].reshape(per, wl.batch)
            take = min(per, steps - e * per)
            out[k, e * per : e * per + take] = perm[:take]
    return out


# ---------------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------------
def jax_runs(wl, dtype, X, y, steps, m):
    """``{"jax-vmap": run, "jax-scan": run}`` and their compile times (s)."""
    import jax
    import jax.numpy as jnp

    models = networks(wl, dtype)
    K, L = wl.K, len(wl.sizes) - 1
    params = [
        (jnp.asarray(np.stack([mm.dense[i].W for mm in models])),
         jnp.asarray(np.stack([mm.dense[i].b for mm in models])))
        for i in range(L)
    ]  # fmt: skip
    rates = jnp.asarray(np.array([[p] * (L - 1) for _ in range(wl.seeds) for p in wl.rates]))
    rates = rates.astype(dtype)
    keys = jax.random.split(jax.random.key(0), K)
    Xj = jnp.asarray(X.astype(dtype))
    yj = jnp.asarray(y.astype(dtype).reshape(-1, 1) if wl.head == "sigmoid" else y.astype(np.int32))
    idx = batch_indices(wl, X.shape[0], steps, K)
    idx = None if idx is None else jnp.asarray(idx)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, wl.lr

    def loss_fn(params, key, xb, yb, rate):
        h = xb
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < L - 1:
                h = jax.nn.relu(h)
                key, sub = jax.random.split(key)
                keep = 1.0 - rate[i]
                mask = jax.random.bernoulli(sub, keep, h.shape)
                h = jnp.where(mask, h / keep, jnp.zeros((), h.dtype))
        if wl.head == "sigmoid":
            return jnp.mean(jax.nn.softplus(h) - yb * h)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), yb[:, None], axis=1))

    def train_one(params, key, idx_seq, rate):
        zeros = jax.tree.map(jnp.zeros_like, params)

        def step(carry, ix):
            params, m1, m2, t, key = carry
            key, sub = jax.random.split(key)
            xb, yb = (Xj, yj) if ix is None else (Xj[ix], yj[ix])
            loss, g = jax.value_and_grad(loss_fn)(params, sub, xb, yb, rate)
            t = t + 1
            if wl.opt == "adam":
                m1 = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m1, g)
                m2 = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, m2, g)
                step_size = (lr / (1.0 - b1**t)).astype(dtype)
                root = jnp.sqrt(1.0 - b2**t).astype(dtype)
                params = jax.tree.map(
                    lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / root + eps), params, m1, m2
                )
            else:  # heavy ball, momentum 0.9
                m1 = jax.tree.map(lambda v, g: 0.9 * v + g, m1, g)
                params = jax.tree.map(lambda p, v: p - lr * v, params, m1)
            return (params, m1, m2, t, key), loss

        init = (params, zeros, zeros, jnp.zeros((), jnp.int32), key)
        carry, losses = jax.lax.scan(step, init, idx_seq, length=steps)
        return carry[0], losses

    vm = jax.jit(jax.vmap(train_one, in_axes=(0, 0, None if idx is None else 0, 0)))
    one = jax.jit(train_one)
    args_k = [jax.tree.map(lambda a, k=k: a[k], params) for k in range(m)]
    t0 = time.perf_counter()
    vm_c = vm.lower(params, keys, idx, rates).compile()
    t1 = time.perf_counter()
    one_c = one.lower(args_k[0], keys[0], None if idx is None else idx[0], rates[0]).compile()
    t2 = time.perf_counter()

    def run_vmap():
        jax.block_until_ready(vm_c(params, keys, idx, rates))
        return K * steps

    def run_scan():
        out = [
            one_c(args_k[k], keys[k], None if idx is None else idx[k], rates[k]) for k in range(m)
        ]
        jax.block_until_ready(out)
        return m * steps

    return {"jax-vmap": run_vmap, "jax-scan": run_scan}, {"jax-vmap": t1 - t0, "jax-scan": t2 - t1}


# ---------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------
def torch_run(wl, dtype, X, y, steps):
    import torch
    from torch.func import grad_and_value, vmap

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    models = networks(wl, dtype)
    K, L = wl.K, len(wl.sizes) - 1
    Xt = torch.from_numpy(X.astype(dtype))
    yt = torch.from_numpy(y.astype(dtype).reshape(-1, 1) if wl.head == "sigmoid" else y)
    rates = torch.tensor([p for _ in range(wl.seeds) for p in wl.rates], dtype=tdtype)
    idx = batch_indices(wl, X.shape[0], steps, K)
    idx = None if idx is None else torch.from_numpy(idx.astype(np.int64))
    init = [
        torch.from_numpy(np.stack([getattr(mm.dense[i], a) for mm in models]))
        for i in range(L)
        for a in ("W", "b")
    ]
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, wl.lr
    torch.manual_seed(0)

    def loss_fn(params, xb, yb, rate):
        h = xb
        for i in range(L):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < L - 1:
                h = torch.relu(h)
                keep = 1.0 - rate
                h = torch.where(torch.rand_like(h) < keep, h / keep, torch.zeros_like(h))
        if wl.head == "sigmoid":
            return torch.nn.functional.binary_cross_entropy_with_logits(h, yb)
        return torch.nn.functional.cross_entropy(h, yb)

    grads = vmap(grad_and_value(loss_fn), in_dims=(0, 0, 0, 0), randomness="different")
    grads_full = vmap(grad_and_value(loss_fn), in_dims=(0, None, None, 0), randomness="different")

    def run():
        params = [p.clone() for p in init]
        m1 = [torch.zeros_like(p) for p in params]
        m2 = [torch.zeros_like(p) for p in params]
        with torch.no_grad():
            for t in range(1, steps + 1):
                if idx is None:
                    g, _ = grads_full(params, Xt, yt, rates)
                else:
                    ix = idx[:, t - 1]
                    g, _ = grads(params, Xt[ix], yt[ix], rates)
                if wl.opt == "adam":
                    torch._foreach_mul_(m1, b1)
                    torch._foreach_add_(m1, g, alpha=1 - b1)
                    torch._foreach_mul_(m2, b2)
                    torch._foreach_addcmul_(m2, g, g, value=1 - b2)
                    den = torch._foreach_sqrt(m2)
                    torch._foreach_div_(den, (1 - b2**t) ** 0.5)
                    torch._foreach_add_(den, eps)
                    torch._foreach_addcdiv_(params, m1, den, value=-lr / (1 - b1**t))
                else:
                    torch._foreach_mul_(m1, 0.9)
                    torch._foreach_add_(m1, g)
                    torch._foreach_add_(params, m1, alpha=-lr)
        return K * steps

    return run


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
PEERS = ("jax-vmap", "jax-scan", "torch-vmap")
COLUMNS = ("alone", "stack", *PEERS)


def bench(wl, dtype, peers, steps, rounds, m) -> dict:
    X, y = dataset(wl)
    X = X.astype(dtype)
    check_stack_is_train(wl, dtype, X, y)
    runs = {
        "alone": numpy_alone(wl, dtype, X, y, steps, m),
        "stack": numpy_stack(wl, dtype, X, y, steps),
    }
    compile_s, notes = {}, []
    if "jax" in peers:
        jr, compile_s = jax_runs(wl, dtype, X, y, steps, m)
        runs.update(jr)
    if "torch" in peers:
        runs["torch-vmap"] = torch_run(wl, dtype, X, y, steps)
    for run in runs.values():  # warm-up
        run()
    names = list(runs)
    rates = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for i in range(rounds):
        for n in names[i % len(names) :] + names[: i % len(names)]:
            c0, t0 = time.process_time(), time.perf_counter()
            done = runs[n]()
            t1, c1 = time.perf_counter(), time.process_time()
            rates[n].append(done / (t1 - t0))
            cpu[n].append(done / max(c1 - c0, 1e-9))
    best = {n: max(r) for n, r in rates.items()}
    best_cpu = {n: max(r) for n, r in cpu.items()}
    present = [n for n in PEERS if n in best]
    out = {"best": best, "compile": compile_s, "notes": notes}
    if present:
        fastest = max(present, key=lambda n: best[n])
        out["fastest"], out["ratio"] = fastest, best["stack"] / best[fastest]
        paired = [rates["stack"][i] / max(rates[n][i] for n in present) for i in range(rounds)]
        out["paired"] = float(np.median(paired))
        out["cpu_ratio"] = best_cpu["stack"] / max(best_cpu[n] for n in present)
    out["vs_alone"] = best["stack"] / best["alone"]
    return out


def _one_core() -> str:
    """Pin this process (every thread of every implementation) to one core, so that no peer
    gets a second core through a helper thread; returns what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def _xla_one_thread() -> None:
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 steps, 3 rounds, 4 alone")
    ap.add_argument("--steps", type=int, default=None, help="steps per network (1000)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (5)")
    ap.add_argument("--alone", type=int, default=8, help="networks timed one at a time")
    ap.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    ap.add_argument("--peers", default="jax,torch", help="comma-separated: jax, torch")
    ap.add_argument("--workloads", default="", help="comma-separated indices (default all)")
    ap.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin the process to one core"
    )
    args = ap.parse_args(argv)
    steps = args.steps or (200 if args.quick else 1000)
    rounds = args.rounds or (3 if args.quick else 5)
    m = min(args.alone, 4) if args.quick else args.alone
    peers, versions = [], [f"numpy {np.__version__}"]
    pinned = _one_core() if args.pin else "not pinned"
    _xla_one_thread()
    for peer in [p for p in args.peers.split(",") if p]:
        try:
            if peer == "jax":
                import jax

                jax.config.update("jax_enable_x64", True)
                versions.append(f"jax {jax.__version__} (XLA_FLAGS={os.environ['XLA_FLAGS']!r})")
            elif peer == "torch":
                import torch

                torch.set_num_threads(1)
                versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} thread)")
            peers.append(peer)
        except ImportError as exc:
            print(f"note: peer {peer} skipped ({exc}); pip install -e '.[bench]'")
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    chosen = [WORKLOADS[int(i)] for i in args.workloads.split(",")] if args.workloads else WORKLOADS
    with threadpool_limits(limits=1, user_api="blas"):
        blas = [
            f"{i['internal_api']} {i.get('version', '')} {i.get('architecture', '')} "
            f"({i['num_threads']} thread)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        print(f"one thread for all, process {pinned}; numpy BLAS: {', '.join(blas)}")
        print(f"{'; '.join(versions)}; {platform.machine()}, {os.cpu_count()} cores")
        print(
            f"{steps} steps per network, {rounds} interleaved rounds, best round; net-steps/s; "
            f"alone and jax-scan timed on {m} networks; stack/peer = stack ÷ fastest peer "
            "(median of the paired per-round ratios), and the same by CPU time of the process "
            "(all its threads; steadier on a shared machine); compile: JAX vmap / scan seconds"
        )
        head = f"{'workload':<22} {'K':>3} {'dtype':<7} " + " ".join(f"{c:>10}" for c in COLUMNS)
        print(head + f" {'stack/peer':>20} {'by CPU':>6} {'stack/alone':>11}  compile", flush=True)
        ratios = {np.float32: [], np.float64: []}
        for wl in chosen:
            for dtype in dtypes:
                r = bench(wl, dtype, peers, steps, rounds, m)
                line = f"{wl.name:<22} {wl.K:>3} {np.dtype(dtype).name:<7} "
                line += " ".join(
                    f"{r['best'][c]:>10.0f}" if c in r["best"] else f"{'–':>10}" for c in COLUMNS
                )
                if "ratio" in r:
                    ratios[dtype].append(r["ratio"])
                    rs = f"{r['ratio']:.2f} ({r['paired']:.2f}) {r['fastest']}"
                    rc = f"{r['cpu_ratio']:.2f}"
                else:
                    rs = rc = "–"
                comp = " / ".join(f"{s:.1f}" for s in r["compile"].values()) or "–"
                print(f"{line} {rs:>20} {rc:>6} {r['vs_alone']:>11.2f}  {comp}", flush=True)
        f32 = f"{min(ratios[np.float32]):.2f}" if ratios[np.float32] else "–"
        print(f"float32 (reported, not deciding): min ratio package/fastest peer: {f32}")
        f64 = f"{min(ratios[np.float64]):.2f}" if ratios[np.float64] else "–"
        print(f"min ratio package/fastest peer: {f64}")


if __name__ == "__main__":
    sys.exit(main())
