"""A small recurrent net over a sequence: a loop, item writes, a helper called in the loop.

Not in the seeds (their nets are feed-forward); it shows what the seeds' flat backward turns
into when the forward loops: the backward of the time loop is a loop running backwards over
the recorded states ("backpropagation through time"). The forward fills the rows of a zeros
matrix, one hidden state per step, as people write it in numpy:

    h_t = tanh(W h_{t-1} + U x_t),   H[t] = h_t,   L = 1/2 ||H V - Y||^2

The reference is backpropagation through time, written by hand:

    G      = (H V - Y)                  (dL/d(HV))
    V_bar  = H^T G
    H_bar  = G V^T                      (row t: dL/dh_t through the output)
    for t = T-1 .. 0:
        a_bar  = (H_bar[t] + h_bar_next) * (1 - h_t^2)
        W_bar += outer(a_bar, h_{t-1})    U_bar += outer(a_bar, x_t)
        h_bar_next = W^T a_bar
"""

import numpy as np

import gradgen

WRT = ("W", "U", "V")
T, D, N, K = 6, 3, 4, 2  # steps, inputs, hidden units, outputs
_rng = np.random.default_rng(7)
POINT = dict(
    W=0.5 * _rng.standard_normal((N, N)),
    U=0.5 * _rng.standard_normal((N, D)),
    V=_rng.standard_normal((N, K)),
    X=_rng.standard_normal((T, D)),
    Y=_rng.standard_normal((T, K)),
)


def step(W, U, h, x):
    return np.tanh(W @ h + U @ x)


def loss(W, U, V, X, Y):
    H = np.zeros((X.shape[0], W.shape[0]))
    h = np.zeros(W.shape[0])
    for t in range(X.shape[0]):
        h = step(W, U, h, X[t])
        H[t] = h
    return 0.5 * np.sum((H @ V - Y) ** 2)


def bptt(W, U, V, X, Y):
    steps = X.shape[0]
    H = np.zeros((steps, W.shape[0]))
    h = np.zeros(W.shape[0])
    for t in range(steps):
        h = np.tanh(W @ h + U @ X[t])
        H[t] = h
    G = H @ V - Y
    V_bar = H.T @ G
    H_bar = G @ V.T
    W_bar, U_bar = np.zeros_like(W), np.zeros_like(U)
    h_bar_next = np.zeros(W.shape[0])
    for t in reversed(range(steps)):
        a_bar = (H_bar[t] + h_bar_next) * (1 - H[t] ** 2)
        previous = H[t - 1] if t > 0 else np.zeros(W.shape[0])
        W_bar += np.outer(a_bar, previous)
        U_bar += np.outer(a_bar, X[t])
        h_bar_next = W.T @ a_bar
    return W_bar, U_bar, V_bar


def check(name, got, want, rel=1e-9):
    error = np.max(np.abs(got - want)) / np.max(np.abs(want))
    print(f"{name}: largest relative difference to backpropagation through time {error:.1e}")
    if not error <= rel:
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(loss, wrt=WRT)
    print(g.source)
    print(f"L = {loss(**POINT)!r}")
    for name, got, want in zip(WRT, g(**POINT), bptt(**POINT)):
        check(name, got, want)
    print("ok")


if __name__ == "__main__":
    main()
