"""The benchmark workloads: each forward written once, plus its hand-written backward.

Every forward is a factory over a math namespace (``make_neuron(m)`` returns ``neuron``), so
gradgen (``math`` or ``numpy``), autograd (``autograd.numpy``), JAX (``jax.numpy``), PyTorch
(``torch`` behind a small shim) and sympy (the ``sympy`` module) all differentiate the same
source. gradgen resolves ``m`` through the closure.

The hand-written backward of each workload is the physical limit the others are compared with:
it takes the forward's arguments and returns the gradients in ``wrt`` order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Workload:
    """One function to differentiate at one point."""

    name: str
    make: Callable[[Any], Callable[..., Any]]  # factory over a math namespace
    point: tuple[tuple[str, Any], ...]  # every argument, in signature order
    wrt: tuple[str, ...]
    hand: Callable[..., tuple[Any, ...]] | None  # hand-written backward, or None
    arrays: bool  # True: numpy namespace for gradgen, no sympy

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(value for _, value in self.point)

    @property
    def argnums(self) -> tuple[int, ...]:
        names = [name for name, _ in self.point]
        return tuple(names.index(name) for name in self.wrt)


# -- (1) the sigmoid neuron of seed 003 ----------------------------------------------------------


def make_neuron(m: Any) -> Callable[..., Any]:
    def sigmoid(x):
        return 1.0 / (1.0 + m.exp(-x))

    def neuron(w0, x0, w1, x1, w2):
        s0 = w0 * x0
        s1 = w1 * x1
        s2 = s0 + s1
        s3 = s2 + w2
        L = sigmoid(s3)
        return L

    return neuron


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def neuron_flat_backward(w0, x0, w1, x1, w2):
    """Seed 003, 'Backprop Implementation: "Flat" code', verbatim."""
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)

    grad_L = 1.0
    grad_s3 = grad_L * (1 - L) * L
    grad_w2 = grad_s3
    grad_s2 = grad_s3
    grad_s0 = grad_s2
    grad_s1 = grad_s2
    grad_w1 = grad_s1 * x1
    grad_x1 = grad_s1 * w1
    grad_w0 = grad_s0 * x0
    grad_x0 = grad_s0 * w0
    return grad_w0, grad_x0, grad_w1, grad_x1, grad_w2


# -- (2) univariate logistic least squares + L2 (seeds 000, 001) --------------------------------


def make_logistic(m: Any) -> Callable[..., Any]:
    def sigmoid(z):
        return 1.0 / (1.0 + m.exp(-z))

    def logistic_loss(w, b, x, t, lam):
        z = w * x + b
        y = sigmoid(z)
        L = 0.5 * (y - t) ** 2 + lam * 0.5 * w ** 2
        return L

    return logistic_loss


def logistic_error_signals(w, b, x, t, lam):
    """The seeds' backward pass in error-signal notation (w fans out to z and R)."""
    z = w * x + b
    y = sigmoid(z)
    R_bar = lam
    y_bar = y - t
    z_bar = y_bar * y * (1.0 - y)
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar
    return w_bar, b_bar


# -- (3) Calculus Quiz #1 of seed 004 ------------------------------------------------------------


def make_quiz(m: Any) -> Callable[..., Any]:
    def quiz(x, z):
        y = m.exp(x * z) + x * z / m.log(x) + m.sin(m.log(x)) / m.exp(x * z)
        return y

    return quiz


def quiz_flat_backward(x, z):
    """Staged by hand: shared subterms once, adjoints accumulated in reverse."""
    xz = x * z
    e = math.exp(xz)
    lx = math.log(x)
    s = math.sin(lx)
    grad_e = 1.0 - s / (e * e)
    grad_xz = grad_e * e + 1.0 / lx
    grad_lx = -xz / (lx * lx) + math.cos(lx) / e
    grad_x = grad_xz * z + grad_lx / x
    grad_z = grad_xz * x
    return grad_x, grad_z


# -- (4) the two-layer ReLU net "in 25 lines" of seed 003 ----------------------------------------


def make_two_layer(m: Any) -> Callable[..., Any]:
    def two_layer_loss(W1, W2, x, y):
        s = x @ W1
        a = m.maximum(s, 0)
        y_hat = a @ W2
        loss = 0.5 * m.sum((y_hat - y) ** 2.0)
        return loss

    return two_layer_loss


def two_layer_seed_backward(W1, W2, x, y):
    """Seed 003, lines 12-14 (forward) and 18-22 (backward), verbatim."""
    s = x.dot(W1)
    a = np.maximum(s, 0)
    y_hat = a.dot(W2)
    dy_hat = y_hat - y
    dW2 = a.T.dot(dy_hat)
    da = dy_hat.dot(W2.T)
    ds = (s > 0) * da
    dW1 = x.T.dot(ds)
    return dW1, dW2


# -- (5) an MNIST-sized MLP with softmax cross-entropy -------------------------------------------


def make_mlp(m: Any) -> Callable[..., Any]:
    def mlp_loss(W1, b1, W2, b2, X, Y):
        h = m.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        logp = logits - m.log(m.sum(m.exp(logits), axis=1, keepdims=True))
        loss = -m.mean(m.sum(Y * logp, axis=1))
        return loss

    return mlp_loss


def mlp_hand_backward(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy backward as a person writes it: dlogits = (p - Y) / N."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    dlogits = (p - Y) / X.shape[0]
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dh = dlogits @ W2.T
    dpre = dh * (1.0 - h * h)
    dW1 = X.T @ dpre
    db1 = dpre.sum(axis=0)
    return dW1, db1, dW2, db2


# -- (6) an RNN-style loop: 100 steps of a tanh recurrence, a squared error per step ------------


def make_rnn(m: Any) -> Callable[..., Any]:
    def rnn_loss(W, U, b, xs, ys, h0):
        h = h0
        loss = 0.0
        for t in range(xs.shape[0]):
            h = m.tanh(W @ h + U @ xs[t] + b)
            loss = loss + 0.5 * m.sum((h - ys[t]) ** 2)
        return loss

    return rnn_loss


def rnn_hand_backward(W, U, b, xs, ys, h0):
    """Backpropagation through time as the textbooks write it (min-char-rnn style): the forward
    keeps every hidden state, the backward walks the steps in reverse, adding each step's outer
    products to the weight gradients and passing dh back through W."""
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W.dot(hs[-1]) + U.dot(xs[t]) + b))
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(xs.shape[0])):
        h = hs[t + 1]
        dh = dh_next + (h - ys[t])
        dpre = dh * (1.0 - h * h)
        dW += np.outer(dpre, hs[t])
        dU += np.outer(dpre, xs[t])
        db += dpre
        dh_next = W.T.dot(dpre)
    return dW, dU, db


def rnn_point(steps: int = 100, hidden: int = 64, inputs: int = 32, seed: int = 2) -> tuple[tuple[str, Any], ...]:
    """Weights scaled so that tanh stays away from saturation over the whole sequence."""
    rng = np.random.default_rng(seed)
    return (
        ("W", 0.9 * rng.standard_normal((hidden, hidden)) / math.sqrt(hidden)),
        ("U", rng.standard_normal((hidden, inputs)) / math.sqrt(inputs)),
        ("b", 0.1 * rng.standard_normal(hidden)),
        ("xs", rng.standard_normal((steps, inputs))),
        ("ys", 0.5 * rng.standard_normal((steps, hidden))),
        ("h0", np.zeros(hidden)),
    )


def _two_layer_point() -> tuple[tuple[str, Any], ...]:
    N, D, H = 32, 8, 64
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D))
    return (
        ("W1", rng.standard_normal((D, H))),
        ("W2", rng.standard_normal((H, D))),
        ("x", x),
        ("y", np.sin(x)),
    )


def _mlp_point() -> tuple[tuple[str, Any], ...]:
    N, D, H, K = 256, 784, 256, 10
    rng = np.random.default_rng(1)
    return (
        ("W1", rng.standard_normal((D, H)) / math.sqrt(D)),
        ("b1", 0.1 * rng.standard_normal(H)),
        ("W2", rng.standard_normal((H, K)) / math.sqrt(H)),
        ("b2", 0.1 * rng.standard_normal(K)),
        ("X", rng.random((N, D))),  # pixel intensities in [0, 1)
        ("Y", np.eye(K)[rng.integers(0, K, N)]),  # one-hot labels
    )


SCALAR_WORKLOADS = (
    Workload(
        "neuron (seed 003)",
        make_neuron,
        (("w0", 2.0), ("x0", -1.0), ("w1", -3.0), ("x1", -2.0), ("w2", -3.0)),
        ("w0", "x0", "w1", "x1", "w2"),
        neuron_flat_backward,
        arrays=False,
    ),
    Workload(
        "logistic LSQ + L2",
        make_logistic,
        (("w", 1.5), ("b", -0.5), ("x", 2.0), ("t", 0.0), ("lam", 0.1)),
        ("w", "b"),
        logistic_error_signals,
        arrays=False,
    ),
    Workload(
        "calculus quiz (seed 004)",
        make_quiz,
        (("x", 2.0), ("z", 3.0)),
        ("x", "z"),
        quiz_flat_backward,
        arrays=False,
    ),
)

ARRAY_WORKLOADS = (
    Workload("two-layer net 32x8x64", make_two_layer, _two_layer_point(), ("W1", "W2"), two_layer_seed_backward, arrays=True),
    Workload("MLP 256x784-256-10", make_mlp, _mlp_point(), ("W1", "b1", "W2", "b2"), mlp_hand_backward, arrays=True),
)


def rnn_workload(steps: int = 100, hidden: int = 64, inputs: int = 32) -> Workload:
    name = f"RNN {steps} steps, hidden {hidden}, input {inputs}"
    return Workload(name, make_rnn, rnn_point(steps, hidden, inputs), ("W", "U", "b"), rnn_hand_backward, arrays=True)


RNN_WORKLOAD = rnn_workload()

# The workloads a worker process can run by name (generated programs go by file instead).
NAMED_WORKLOADS = (*SCALAR_WORKLOADS, *ARRAY_WORKLOADS, RNN_WORKLOAD)
