"""The MLP of the seeds written unit by unit: 2 inputs, 2 hidden units, 1 output.

Seeds 000 and 001 ("Multilayer Perceptron (multiple outputs)"):
    z_i = sum_j w1_ij x_j + b1_i,   h_i = sigma(z_i)
    y_k = sum_i w2_ki h_i + b2_k,   L = 1/2 sum_k (y_k - t_k)^2
Every weight is its own scalar parameter and every unit its own statement,
as in the seed's computation graph. The reference is the seed's scalar
error-signal backward pass (with a single output the sums over k have one term):
    y_k_bar  = y_k - t_k
    w2_ki_bar = y_k_bar h_i          b2_k_bar = y_k_bar
    h_i_bar  = sum_k y_k_bar w2_ki
    z_i_bar  = h_i_bar sigma'(z_i)
    w1_ij_bar = z_i_bar x_j          b1_i_bar = z_i_bar
"""

import math

import gradgen

WRT = ("w1_11", "w1_12", "w1_21", "w1_22", "b1_1", "b1_2", "w2_11", "w2_12", "b2_1")
POINT = dict(
    w1_11=0.5, w1_12=-1.0, w1_21=1.5, w1_22=0.25, b1_1=0.1, b1_2=-0.3,
    w2_11=2.0, w2_12=-1.0, b2_1=0.2,
    x1=1.0, x2=-2.0, t1=0.5,
)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def loss(w1_11, w1_12, w1_21, w1_22, b1_1, b1_2, w2_11, w2_12, b2_1, x1, x2, t1):
    z1 = w1_11 * x1 + w1_12 * x2 + b1_1
    z2 = w1_21 * x1 + w1_22 * x2 + b1_2
    h1 = sigmoid(z1)
    h2 = sigmoid(z2)
    y1 = w2_11 * h1 + w2_12 * h2 + b2_1
    L = 0.5 * (y1 - t1) ** 2
    return L


def error_signals(w1_11, w1_12, w1_21, w1_22, b1_1, b1_2, w2_11, w2_12, b2_1, x1, x2, t1):
    z1 = w1_11 * x1 + w1_12 * x2 + b1_1
    z2 = w1_21 * x1 + w1_22 * x2 + b1_2
    h1 = sigmoid(z1)
    h2 = sigmoid(z2)
    y1 = w2_11 * h1 + w2_12 * h2 + b2_1

    y1_bar = y1 - t1
    w2_11_bar = y1_bar * h1
    w2_12_bar = y1_bar * h2
    b2_1_bar = y1_bar
    h1_bar = y1_bar * w2_11
    h2_bar = y1_bar * w2_12
    z1_bar = h1_bar * h1 * (1.0 - h1)
    z2_bar = h2_bar * h2 * (1.0 - h2)
    w1_11_bar = z1_bar * x1
    w1_12_bar = z1_bar * x2
    w1_21_bar = z2_bar * x1
    w1_22_bar = z2_bar * x2
    b1_1_bar = z1_bar
    b1_2_bar = z2_bar
    return (w1_11_bar, w1_12_bar, w1_21_bar, w1_22_bar, b1_1_bar, b1_2_bar,
            w2_11_bar, w2_12_bar, b2_1_bar)


def check(name, got, want, rel=1e-9):
    print(f"  {name:>5}_bar  gradgen {got: .17g}   reference {want: .17g}")
    if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-15):
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(loss, wrt=WRT)
    print(g.source)

    print(f"L = {loss(**POINT)!r}")
    for name, a, b in zip(WRT, g(**POINT), error_signals(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
