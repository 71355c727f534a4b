"""A one-hidden-layer MLP in vectorized form, squared-error loss.

Seeds 000 and 002 ("MLP example in vectorized form"):
    z = W1 x + b1,  h = sigma(z),  y = W2 h + b2,  L = 1/2 ||t - y||^2
The reference is the seed's vector backward pass:
    y_bar  = y - t
    W2_bar = y_bar h^T          b2_bar = y_bar
    h_bar  = W2^T y_bar
    z_bar  = h_bar * sigma'(z)  (elementwise; sigma' = h (1 - h))
    W1_bar = z_bar x^T          b1_bar = z_bar
"""

import numpy as np

import gradgen

WRT = ("W1", "b1", "W2", "b2")
D, H, K = 3, 4, 2  # inputs, hidden units, outputs
_rng = np.random.default_rng(1)
POINT = dict(
    W1=_rng.standard_normal((H, D)),
    b1=_rng.standard_normal(H),
    W2=_rng.standard_normal((K, H)),
    b2=_rng.standard_normal(K),
    x=_rng.standard_normal(D),
    t=_rng.standard_normal(K),
)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def loss(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = sigmoid(z)
    y = W2 @ h + b2
    L = 0.5 * np.sum((t - y) ** 2)
    return L


def seed_backward(W1, b1, W2, b2, x, t):
    z = W1 @ x + b1
    h = sigmoid(z)
    y = W2 @ h + b2
    y_bar = y - t
    W2_bar = np.outer(y_bar, h)
    b2_bar = y_bar
    h_bar = W2.T @ y_bar
    z_bar = h_bar * h * (1 - h)
    W1_bar = np.outer(z_bar, x)
    b1_bar = z_bar
    return W1_bar, b1_bar, W2_bar, b2_bar


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
    for name, a, b in zip(WRT, g(**POINT), seed_backward(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
