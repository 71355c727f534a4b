"""f(x, y, z) = (x + y) * z at x = -2, y = 5, z = -4.

Seed 003 (the first computational-graph example of backpropagation):
the add gate hands its upstream gradient to both inputs, the mul gate
swaps its inputs, so df/dx = df/dy = z = -4 and df/dz = q = x + y = 3.
"""

import math

import gradgen

WRT = ("x", "y", "z")
POINT = dict(x=-2.0, y=5.0, z=-4.0)


def add_mul(x, y, z):
    q = x + y
    f = q * z
    return f


def hand_grads(x, y, z):
    q = x + y
    return z, z, q


def check(name, got, want, rel=1e-9):
    print(f"  {name:>2}  gradgen {got: .17g}   reference {want: .17g}")
    if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-15):
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g = gradgen.grad(add_mul, wrt=WRT)
    print(g.source)

    print(f"f = {add_mul(**POINT)!r}")
    for name, a, b in zip(WRT, g(**POINT), hand_grads(**POINT)):
        check(name, a, b)
    print("ok")


if __name__ == "__main__":
    main()
