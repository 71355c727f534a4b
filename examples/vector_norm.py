"""A vectorized example: f(x, W) = ||W x||^2.

Seed 003 ("A vectorized example"). With q = W x the seed derives, entry by
entry and then in matrix form,

    grad_W f = 2 q x^T = 2 * np.outer(q, x),      grad_x f = 2 W^T q,

and reminds us that each gradient has the shape of its variable.
"""

import numpy as np

import gradgen

WRT = ("x", "W")
n = 3
_rng = np.random.default_rng(2)
POINT = dict(x=_rng.standard_normal(n), W=_rng.standard_normal((n, n)))


def squared_norm(x, W):
    q = W @ x
    f = np.sum(q ** 2)
    return f


def seed_grads(x, W):
    q = W @ x
    return 2 * W.T @ q, 2 * np.outer(q, x)


def check(name, got, want, rel=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    print(f"grad_{name}: gradgen\n{got}\ngrad_{name}: reference\n{want}")
    err = np.max(np.abs(got - want)) / np.max(np.abs(want)) if got.shape == want.shape else np.inf
    if not err <= rel:
        raise SystemExit(f"grad_{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(squared_norm, wrt=WRT)
    print(g.source)

    print(f"f = {squared_norm(**POINT)!r}")
    for name, a, b in zip(WRT, g(**POINT), seed_grads(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
