"""The loop of :func:`dropout_study.nn.stack.train_stack`: rows, records and stopping of K networks.

:class:`Run` keeps the stack's rows (sorted by optimiser/penalty group), each network's records
(by its index in the caller's list, grown by doubling under a stopping rule, as ``train`` does)
and runs ``train``'s loop on all rows at once (see :mod:`dropout_study.training` for what a
step records and when). Rows leave the stack when their stopping rule fires or their loss
diverges; the rest go on with their own numbers unchanged. A network's checkpoints are its own;
with ``mask_average = k`` the full-batch steps run on the data stacked ``k`` times (one mask set
per copy; the evaluations on the data once).
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.stack_heads import eval_loss_acc, loss_and_grad
from dropout_study.nn.stack_layers import augment
from dropout_study.nn.stack_optim import StackedUpdate
from dropout_study.nn.stopping import DIVERGENCE_FLOOR, History, TrainingDiverged, diverged

__all__ = ["Run"]

_EVAL = ("train_loss", "train_acc", "val_loss", "val_acc", "penalty")


class Run:
    """The state of one :func:`train_stack` call: rows of the stack (sorted by group), the
    records of every network (by its index in ``models``) and the loop."""

    def __init__(self, net, models, order, opts, pens, stops, mrngs, brngs, n_steps, every,
                 ckpts, write_back=False):  # fmt: skip
        K = len(models)
        net.compact(order)  # rows in group order
        net.mask_rngs = [mrngs[i] for i in order]
        self.net, self.models, self.n_steps, self.every = net, models, n_steps, every
        self.ids = np.array(order, dtype=np.intp)  # row → index in models
        self.opts = opts
        self.upd = StackedUpdate(
            [opts[i] for i in order], [pens[i] for i in order], net.theta.shape[1], net.dtype,
            net.weight_slices, net.sizes,
        )  # fmt: skip
        self.any_penalty = any(p is not None for p in pens)
        self.stops = [stops[i] for i in order]
        self.brngs = [brngs[i] for i in order]
        self.limit = np.full(K, np.inf)
        self.best_loss = np.full(K, np.inf)
        self.best_step = np.full(K, -1, dtype=np.intp)
        self.since = np.zeros(K, dtype=np.intp)
        restore = any(s is not None and s.restore_best for s in stops)
        self.best_theta = np.empty_like(net.theta) if restore else None
        # records by network index, grown by doubling under a stopping rule (as train)
        n_eval = -(-n_steps // every) + 1
        grow = any(s is not None for s in stops)
        size, size_eval = (min(n_steps, 1024), min(n_eval, 256)) if grow else (n_steps, n_eval)
        self.rec = {
            "step_loss": np.empty((K, size)),
            "step_objective": np.empty((K, size)),
            "eval_step": np.empty(size_eval, dtype=int),
            "train_loss": np.empty((K, size_eval)),
            "train_acc": np.empty((K, size_eval)),
            "val_loss": np.full((K, size_eval), np.nan),
            "val_acc": np.full((K, size_eval), np.nan),
            "penalty": np.zeros((K, size_eval)),
        }
        self.ckpts = [{} for _ in range(K)]
        self.ckpt_at: dict[int, set[int]] = {}  # step → networks (by index) keeping θ_t
        for i, steps in enumerate(ckpts):
            for t in steps:
                self.ckpt_at.setdefault(t, set()).add(i)
        self.write_back = write_back  # each network has its own optimiser object
        self.results: list = [None] * K
        self.rows_data: list[np.ndarray] = []  # per-network arrays compacted with the rows

    def _room(self, names, i: int) -> None:
        """Grow the named records (doubling, along their last axis) so that index ``i`` exists."""
        cur = self.rec[names[0]].shape[-1]
        if i < cur:
            return
        new = max(2 * cur, i + 1)
        for name in names:
            old = self.rec[name]
            grown = np.full(
                old.shape[:-1] + (new,), np.nan if name.startswith("val") else 0, old.dtype
            )
            grown[..., :cur] = old
            self.rec[name] = grown

    # -----------------------------------------------------------------------------------------
    def _blocks(self, kb: int):
        K = self.net.K
        return [(r0, min(K, r0 + kb)) for r0 in range(0, K, kb)]

    def _evaluate(self, j: int, t: int, data, factor) -> list:
        """Evaluate every row at step ``t`` into evaluation ``j``; rows whose training loss
        diverged, as ``(row, exception)``."""
        net, K, head = self.net, self.net.K, self.net.head_name
        self._room(("eval_step", *_EVAL), j)
        self.rec["eval_step"][j] = t
        ids = self.ids[:K]
        names = (("train_loss", "train_acc"), ("val_loss", "val_acc"))
        for (X, y, rows), (loss_name, acc_name) in zip(data, names[: len(data)], strict=True):
            kb = self._kb(X.shape[-2])
            for r0, r1 in self._blocks(kb):
                z = net.forward(X if X.ndim == 2 else X[r0:r1], r0, r1, kb, training=False)
                loss, acc = eval_loss_acc(head, z, y[r0:r1] if rows else y)
                self.rec[loss_name][ids[r0:r1], j] = loss
                self.rec[acc_name][ids[r0:r1], j] = acc
        if self.any_penalty:
            self.rec["penalty"][ids, j] = self.upd.penalty_values(net.theta)
        return self._check(t, self.rec["train_loss"][ids, j], factor)

    def _check(self, t: int, values: np.ndarray, factor) -> list:
        """``check_loss`` of ``train`` for every row: ``(row, TrainingDiverged)`` of the rows
        whose value is not finite or beyond their limit."""
        out = []
        for r in np.flatnonzero(~np.isfinite(values) | (values > self.limit[: values.size])):
            v = values[r]
            try:
                diverged(t, v, self.opts[self.ids[r]], factor if np.isfinite(v) else None)
            except TrainingDiverged as exc:
                out.append((int(r), exc))
        return out

    def _should_stop(self, t: int, j: int) -> list[int]:
        """Update each row's stopping rule after evaluation ``j`` (at step ``t``); rows to stop."""
        out = []
        for r, rule in enumerate(self.stops):
            if rule is None:
                continue
            loss = self.rec["val_loss" if rule.monitor == "val" else "train_loss"][self.ids[r], j]
            if loss < self.best_loss[r] - rule.min_delta or self.best_step[r] < 0:
                self.best_loss[r] = min(loss, self.best_loss[r])
                self.best_step[r], self.since[r] = t, 0
                if rule.restore_best:
                    self.best_theta[r] = self.net.theta[r]
            else:
                self.since[r] += 1
                if self.since[r] >= rule.patience:
                    out.append(r)
        return out

    def _finish(self, ends: dict[int, tuple], on_divergence: str) -> None:
        """Hand rows back: ``ends[row] = (steps made, evaluations made, stopped by the rule,
        exception or None)``; write their models and results, then drop them from the stack."""
        if not ends:
            return
        errors = [(self.ids[r], e[3]) for r, e in ends.items() if e[3] is not None]
        if errors and on_divergence == "raise":
            for r in range(self.net.K):  # every model at its current parameters
                self._write(r, self.net.theta[r])
            i, exc = min(errors, key=lambda x: x[0])
            if len(self.models) == 1:  # a stack of one raises what train raises
                raise exc
            raise TrainingDiverged(f"Network {i} of the stack: {exc}") from exc
        for r, (steps, n_eval, stopped, exc) in ends.items():
            i, rule = self.ids[r], self.stops[r]
            restore = exc is None and rule is not None and rule.restore_best
            self._write(r, self.best_theta[r] if restore else self.net.theta[r])
            if exc is not None:
                self.results[i] = exc
                continue
            rec = self.rec
            self.results[i] = History(
                **{k: rec[k][i, :steps].copy() for k in ("step_loss", "step_objective")},
                eval_step=rec["eval_step"][:n_eval].copy(),
                **{k: rec[k][i, :n_eval].copy() for k in _EVAL},
                checkpoints=self.ckpts[i],
                stopped_at=steps,
                best_step=int(self.best_step[r]) if rule is not None else -1,
                capped=rule is not None and not stopped,
            )
        keep = np.array([r for r in range(self.net.K) if r not in ends], dtype=np.intp)
        state = [*self.upd.state, *self.rows_data]
        if self.best_theta is not None:
            state.append(self.best_theta)
        self.net.compact(keep, state)
        self.upd.compact(keep)
        self.ids[: keep.size] = self.ids[keep]
        for name in ("limit", "best_loss", "best_step", "since"):
            arr = getattr(self, name)
            arr[: keep.size] = arr[keep]
        self.stops = [self.stops[r] for r in keep]
        self.brngs = [self.brngs[r] for r in keep]

    def _write(self, r: int, theta: np.ndarray) -> None:
        """Row ``r``'s parameters ``theta`` and its gradient into its model (and its moments
        into its optimiser, when it has one of its own)."""
        model, i = self.models[self.ids[r]], 0
        for p, g in zip(model.params, model.grads, strict=True):
            p[...] = theta[i : i + p.size].reshape(p.shape)
            g[...] = self.net.grad[r, i : i + p.size].reshape(p.shape)
            i += p.size
        if self.write_back:
            self.upd.export(r)

    def _kb(self, batch: int) -> int:
        """Networks per block for ``batch`` rows, fixed at the first call (buffers keep it)."""
        kbs = self.__dict__.setdefault("_kbs", {})
        if batch not in kbs:
            kbs[batch] = self.net.block_size(batch)
        return kbs[batch]

    # -----------------------------------------------------------------------------------------
    def _keep_checkpoints(self, t: int) -> None:
        """``θ_t`` of the rows whose network asked for it."""
        want = self.ckpt_at.get(t)
        if want:
            for r in range(self.net.K):
                if self.ids[r] in want:
                    self.ckpts[self.ids[r]][t] = self.net.theta[r].copy()

    def loop(self, X, y, per_net, X_val, y_val, val_per_net, has_val, batch_size, mask_average,
             factor, on_divergence) -> list:  # fmt: skip
        """``train``'s loop on every row; the results in the caller's order. ``X`` is
        ``(n, d)`` (shared) or ``(K, n, d)`` (per network, in the caller's order), likewise
        ``X_val``; ``batch_size`` None is full batch."""
        net, n_steps = self.net, self.n_steps
        n = X.shape[-2]
        full_batch = batch_size is None
        shared = not per_net
        order = self.ids.copy()
        X = augment(X)
        if per_net:  # per-network data, in row order, compacted with the rows
            X, y = X[order], y[order]
            self.rows_data += [X, y]
        if has_val:
            X_val = augment(X_val)
        if val_per_net:
            X_val, y_val = X_val[order], y_val[order]
            self.rows_data += [X_val, y_val]
        data = [(X, y, per_net)] + ([(X_val, y_val, val_per_net)] if has_val else [])
        Xs, ys = X, y  # what a full-batch step runs on: the data, or k copies of it
        if mask_average > 1:  # copy j of the rows gets mask set j
            reps = (mask_average,) + (1,) * (y.ndim - 1 - per_net)
            Xs = np.tile(X, (1, mask_average, 1) if per_net else (mask_average, 1))
            ys = np.tile(y, (1,) * per_net + reps)
            if per_net:
                self.rows_data += [Xs, ys]
        orders: np.ndarray | None = None
        if not full_batch:
            orders = np.empty((net.K, n), dtype=np.intp)
            self.rows_data.append(orders)
        pos = n  # a fresh permutation at the first minibatch step
        bufs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        j = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(n_steps):
                K = net.K
                self._keep_checkpoints(t)
                if t % self.every == 0:
                    bad = self._evaluate(j, t, data, factor)
                    ends = {r: (t, j + 1, True, None) for r in self._should_stop(t, j)}
                    ends.update({r: (t, j + 1, False, exc) for r, exc in bad})  # train raises
                    self._finish(ends, on_divergence)
                    j += 1
                    K = net.K
                    if K == 0:
                        break
                if full_batch:
                    Xb, yb, rows = (Xs, ys, False) if shared else (Xs[:K], ys[:K], True)
                else:
                    if orders is None:
                        raise RuntimeError("minibatch steps without their permutation buffer")
                    if pos >= n:
                        for r in range(K):
                            orders[r] = self.brngs[r].permutation(n)
                        pos = 0
                    idx = orders[:K, pos : pos + batch_size]
                    pos += batch_size
                    Xb, yb = self._gather(X, y, idx, shared, bufs)
                    rows = True
                loss = np.empty(K)
                kb = self._kb(Xb.shape[-2])
                for r0, r1 in self._blocks(kb):
                    z = net.forward(Xb if Xb.ndim == 2 else Xb[r0:r1], r0, r1, kb, training=True)
                    loss[r0:r1], dz = loss_and_grad(net.head_name, z, yb[r0:r1] if rows else yb)
                    net.backward(dz.astype(net.dtype, copy=False), r0, r1, kb)
                if t == 0 and factor is not None:
                    start = factor * np.maximum(loss, DIVERGENCE_FLOOR)
                    self.limit[:K] = np.where(np.isfinite(loss), start, np.inf)
                bad = self._check(t, loss, factor)
                if bad:
                    keep = np.setdiff1d(np.arange(K), [r for r, _ in bad])
                    self._finish({r: (t, j, False, exc) for r, exc in bad}, on_divergence)
                    loss, K = loss[keep], net.K
                    if K == 0:
                        break
                ids = self.ids[:K]
                self._room(("step_loss", "step_objective"), t)
                self.rec["step_loss"][ids, t] = loss
                pen = self.upd.penalty_values(net.theta) if self.any_penalty else 0.0
                self.rec["step_objective"][ids, t] = loss + pen
                self.upd.add_penalty_grads(net.theta, net.grad)
                self.upd.step(net.theta, net.grad)
                self.upd.prox(net.theta)
            else:
                if net.K:
                    self._keep_checkpoints(n_steps)
                    bad = self._evaluate(j, n_steps, data, factor)
                    ends = {r: (n_steps, j + 1, False, exc) for r, exc in bad}
                    self._finish(ends, on_divergence)
                    self._should_stop(n_steps, j)
                    ends = {r: (n_steps, j + 1, False, None) for r in range(net.K)}
                    self._finish(ends, on_divergence)
        return self.results

    def _gather(self, X, y, idx, shared, bufs):
        """The step's batch ``(K, m, d)`` and targets for each row's indices ``idx`` ``(K, m)``
        (``np.take`` into reused buffers, as ``train``)."""
        K, m = idx.shape
        if m not in bufs:
            bufs[m] = (
                np.empty((self.net.K, m, X.shape[-1]), X.dtype),
                np.empty((self.net.K, m) + y.shape[(1 if shared else 2) :], y.dtype),
            )
        Xb, yb = bufs[m][0][:K], bufs[m][1][:K]
        if shared:
            np.take(X, idx, axis=0, out=Xb)
            np.take(y, idx, axis=0, out=yb)
        else:  # row r's data sit at rows r·n ... r·n + n - 1 of the flattened arrays
            n = X.shape[1]
            flat = idx + (np.arange(K) * n)[:, None]
            np.take(X[:K].reshape(K * n, -1), flat, axis=0, out=Xb)
            np.take(y[:K].reshape((K * n,) + y.shape[2:]), flat, axis=0, out=yb)
        return Xb, yb
