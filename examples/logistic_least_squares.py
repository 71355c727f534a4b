"""Univariate logistic least squares with L2 regularization.

Seeds 000 and 001 ("Example: univariate logistic least squares regression").
The reference is the seeds' backward pass in error-signal notation, where
w has fan-out 2 (it feeds both z and the regularizer R), so its error
signal is the sum of two terms:

    L_reg_bar = 1,  R_bar = lam,  L_bar = 1
    y_bar = y - t
    z_bar = y_bar * sigma'(z)          sigma'(z) = sigma(z) (1 - sigma(z))
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar
"""

import math

import gradgen

WRT = ("w", "b")
POINT = dict(w=1.5, b=-0.5, x=2.0, t=0.0, lam=0.1)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def loss(w, b, x, t, lam):
    z = w * x + b
    y = sigmoid(z)
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w ** 2
    L_reg = L + lam * R
    return L_reg


def error_signals(w, b, x, t, lam):
    z = w * x + b
    y = sigmoid(z)
    R_bar = lam
    y_bar = y - t
    z_bar = y_bar * y * (1.0 - y)
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar
    return w_bar, b_bar


def check(name, got, want, rel=1e-9):
    print(f"  {name}_bar  gradgen {got: .17g}   reference {want: .17g}")
    if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-15):
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(loss, wrt=WRT)
    print(g.source)

    print(f"L_reg = {loss(**POINT)!r}")
    for name, a, b in zip(WRT, g(**POINT), error_signals(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
