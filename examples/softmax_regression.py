"""Softmax regression with cross-entropy loss.

Seed 002 (multiclass classification): z = Wx + b, y = softmax(z),
L_CE = -t^T log(y). The seed derives dL/dw_k = (y_k - t_k) x for each row
of W, i.e. in matrix form

    dL/dW = (y - t) x^T = np.outer(y - t, x),      dL/db = y - t.

The softmax is written without the usual max-subtraction (which would need
indexing/np.max); the logits here are small, so exp cannot overflow.
"""

import numpy as np

import gradgen

WRT = ("W", "b")
K, D = 3, 4  # classes, input dimension
_rng = np.random.default_rng(0)
POINT = dict(
    W=0.5 * _rng.standard_normal((K, D)),
    b=0.1 * _rng.standard_normal(K),
    x=_rng.standard_normal(D),
    t=np.eye(K)[1],  # one-hot target: class 1
)


def loss(W, b, x, t):
    z = W @ x + b
    e = np.exp(z)
    y = e / np.sum(e)
    L = -np.sum(t * np.log(y))
    return L


def seed_grads(W, b, x, t):
    z = W @ x + b
    y = np.exp(z) / np.sum(np.exp(z))
    return np.outer(y - t, x), y - t


def check(name, got, want, rel=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    print(f"{name}: gradgen\n{got}\n{name}: reference\n{want}")
    err = np.max(np.abs(got - want)) / np.max(np.abs(want)) if got.shape == want.shape else np.inf
    if not err <= rel:
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(loss, wrt=WRT)
    print(g.source)

    print(f"L = {loss(**POINT)!r}")
    for name, a, b in zip(WRT, g(**POINT), seed_grads(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
