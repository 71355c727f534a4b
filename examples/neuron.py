"""The sigmoid neuron f(w, x) = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2))).

Seed 003 (computational graphs; 'Backprop Implementation: "Flat" code').
The forward function below is the slide's code line for line, and
``neuron_flat_backward`` is the slide's hand-written flat backward pass:
the kind of code gradgen is meant to emit for you.
"""

import math

import gradgen

WRT = ("w0", "x0", "w1", "x1", "w2")
# The worked point on the slides: s3 = 1, so L = sigmoid(1) ~ 0.73.
POINT = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    return L


def neuron_flat_backward(w0, x0, w1, x1, w2):
    """The seed's flat backward code, verbatim; returns the grads in WRT order."""
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


def hand_grads(w0, x0, w1, x1, w2):
    """Closed form: dL/ds3 = sigma'(s3) = (1 - sigma) sigma, then each mul gate swaps."""
    p = sigmoid(w0 * x0 + w1 * x1 + w2)
    d = (1.0 - p) * p
    return d * x0, d * w0, d * x1, d * w1, d


def check(name, got, want, rel=1e-9):
    print(f"  {name:>6}  gradgen {got: .17g}   reference {want: .17g}")
    if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-15):
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(neuron, wrt=WRT)
    print(g.source)

    got = g(**POINT)
    print(f"L = {neuron(**POINT)!r}")
    print("vs. the closed-form derivative:")
    for name, a, b in zip(WRT, got, hand_grads(**POINT)):
        check(name, a, b)
    print("vs. the seed's flat backward code:")
    for name, a, b in zip(WRT, got, neuron_flat_backward(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
