"""PyTorch (float64 autograd and torch.optim) as the oracle for the whole network.

Same weights, same dropout masks: the forward value and every gradient must equal PyTorch's to
1e-10, for each head, each activation and input dropout; one SGD-momentum step and a few Adam
steps must equal torch.optim's; a short ``train`` run must follow PyTorch's trajectory.

These tests skip without torch, except under ``DROPOUT_STUDY_REQUIRE_TORCH=1`` (CI), where a
missing torch fails them (see ``conftest.import_torch_or_skip``).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import REQUIRE_TORCH_ENV, import_torch_or_skip, randomise

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.training import train

TOL = 1e-10
N_OUT = {"sigmoid": 1, "softmax": 4, "identity": 2}


def close(mine, theirs, what=""):
    mine, theirs = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
    assert mine.shape == theirs.shape, (what, mine.shape, theirs.shape)
    err = float(np.max(np.abs(mine - theirs), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    assert err <= TOL * scale, f"{what}: mine / torch differ by {err:.3e} (scale {scale:.3g})"


def problem(head, activation="relu", input_dropout=0.0, dropout=0.4, n=16, seed=0):
    rng = np.random.default_rng(seed)
    model = MLP(
        [5, 7, 6, N_OUT[head]],
        activation=activation,
        head=head,
        dropout=dropout,
        input_dropout=input_dropout,
        rng=seed,
    )
    randomise(model, rng)
    X = rng.standard_normal((n, 5))
    if head == "sigmoid":
        y = rng.integers(0, 2, n).astype(float)
    elif head == "softmax":
        y = rng.integers(0, N_OUT[head], n)
    else:
        y = rng.standard_normal((n, N_OUT[head]))
    return model, X, y, rng


class TorchTwin:
    """The same network written with torch.nn.Linear layers (float64) and explicit masks."""

    def __init__(self, torch, model: MLP):
        self.torch = torch
        self.model = model
        self.linears = []
        for dense in model.dense:
            lin = torch.nn.Linear(*dense.W.shape, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(dense.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(dense.b.copy()))
            self.linears.append(lin)

    def parameters(self):
        return [p for lin in self.linears for p in (lin.weight, lin.bias)]

    def flat_params(self):
        return np.concatenate(
            [
                np.concatenate([lin.weight.detach().numpy().T.ravel(), lin.bias.detach().numpy()])
                for lin in self.linears
            ]
        )

    def flat_grads(self):
        return np.concatenate(
            [
                np.concatenate([lin.weight.grad.numpy().T.ravel(), lin.bias.grad.numpy()])
                for lin in self.linears
            ]
        )

    def loss(self, X, y, masks):
        """Mean loss; ``masks`` as :meth:`MLP.draw_masks` gives them, or None (evaluation)."""
        torch, model = self.torch, self.model
        F = torch.nn.functional
        act = torch.relu if model.activation == "relu" else torch.tanh
        layers = iter(zip(masks, model.dropouts, strict=True)) if masks is not None else None

        def drop(h):
            if layers is None:
                return h
            mask, layer = next(layers)
            if mask is None:
                return h
            return h * torch.from_numpy(mask).double() / (1 - layer.p)

        h = drop(X) if model.input_dropout > 0 else X
        for i, lin in enumerate(self.linears):
            h = lin(h)
            if i < len(self.linears) - 1:
                h = act(h)
                if model.dropout is not None:
                    h = drop(h)
        if model.head_name == "sigmoid":
            return F.binary_cross_entropy_with_logits(h[:, 0], y)
        if model.head_name == "softmax":
            return F.cross_entropy(h, y)
        return F.mse_loss(h, y)


def torch_targets(torch, head, y):
    return torch.from_numpy(np.asarray(y)).long() if head == "softmax" else torch.from_numpy(y)


@pytest.mark.parametrize("head", ["sigmoid", "softmax", "identity"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("input_dropout", [0.0, 0.3])
def test_forward_and_gradients_equal_torch_autograd(torch, head, activation, input_dropout):
    model, X, y, rng = problem(head, activation, input_dropout)
    masks = model.draw_masks(X.shape[0], rng)
    loss, grad = model.loss_and_grad(X, y, training=True, masks=masks)
    dX = model.input_gradient(X, y, training=True, masks=masks)
    twin = TorchTwin(torch, model)
    Xt = torch.from_numpy(X.copy()).requires_grad_(True)
    lt = twin.loss(Xt, torch_targets(torch, head, y), masks)
    lt.backward()
    close(loss, lt.item(), "loss")
    close(grad, twin.flat_grads(), "parameter gradient")
    close(dX, Xt.grad.numpy(), "input gradient")
    # evaluation mode too (dropout off)
    twin2 = TorchTwin(torch, model)
    le = twin2.loss(torch.from_numpy(X), torch_targets(torch, head, y), None)
    le.backward()
    loss_e, grad_e = model.loss_and_grad(X, y)
    close(loss_e, le.item(), "evaluation loss")
    close(grad_e, twin2.flat_grads(), "evaluation gradient")


def test_sgd_momentum_steps_equal_torch_optim(torch):
    model, X, y, rng = problem("softmax", "relu", 0.2)
    twin = TorchTwin(torch, model)
    opt = SGD(lr=0.3, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.3, momentum=0.9)
    yt = torch_targets(torch, "softmax", y)
    for step in range(3):
        masks = model.draw_masks(X.shape[0], rng)
        model.loss_and_grad(X, y, training=True, masks=masks)
        opt.step(model.params, model.grads)
        topt.zero_grad()
        twin.loss(torch.from_numpy(X), yt, masks).backward()
        topt.step()
        close(model.get_params(), twin.flat_params(), f"parameters after SGD step {step + 1}")


def test_adam_steps_equal_torch_optim(torch):
    model, X, y, rng = problem("sigmoid", "tanh", 0.0)
    twin = TorchTwin(torch, model)
    opt = Adam(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-7)
    topt = torch.optim.Adam(twin.parameters(), lr=0.05, betas=(0.8, 0.95), eps=1e-7)
    yt = torch_targets(torch, "sigmoid", y)
    for step in range(5):
        masks = model.draw_masks(X.shape[0], rng)
        model.loss_and_grad(X, y, training=True, masks=masks)
        opt.step(model.params, model.grads)
        topt.zero_grad()
        twin.loss(torch.from_numpy(X), yt, masks).backward()
        topt.step()
        close(model.get_params(), twin.flat_params(), f"parameters after Adam step {step + 1}")


def test_train_follows_the_torch_trajectory(torch):
    """``train`` draws its masks from ``mask_rng`` exactly as ``draw_masks`` does, so PyTorch can
    replay the run: step losses J(θ_t, m_t) and final parameters must agree."""
    model, X, y, _ = problem("identity", "relu", 0.1, n=12)
    twin = TorchTwin(torch, model)
    replay = np.random.default_rng(77)
    hist = train(
        model,
        X,
        y,
        optimizer=SGD(0.05, momentum=0.5),
        n_steps=4,
        mask_rng=np.random.default_rng(77),
    )
    topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.5)
    for t in range(4):
        masks = model.draw_masks(X.shape[0], replay)
        topt.zero_grad()
        lt = twin.loss(torch.from_numpy(X), torch.from_numpy(y), masks)
        lt.backward()
        topt.step()
        close(hist.step_loss[t], lt.item(), f"step loss {t}")
    close(model.get_params(), twin.flat_params(), "parameters after train")


# ---------------------------------------------------------------------------------------------
# The oracle cannot silently stop running: missing torch fails under the CI variable
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def torch_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError


def test_missing_torch_skips_without_the_ci_variable(torch_missing):
    with pytest.raises(pytest.skip.Exception, match="PyTorch oracle not installed"):
        import_torch_or_skip({})
    with pytest.raises(pytest.skip.Exception):
        import_torch_or_skip({REQUIRE_TORCH_ENV: "0"})


def test_missing_torch_fails_under_the_ci_variable(torch_missing):
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_TORCH_ENV}=1 but torch cannot"):
        import_torch_or_skip({REQUIRE_TORCH_ENV: "1"})
