"""The two scalar calculus examples of seed 004 (CMU 10-601, Lecture 20).

Calculus Quiz #1: at x = 2, z = 3, find dy/dx and dy/dz of
    y = exp(xz) + xz / log(x) + sin(log(x)) / exp(xz)

"Simple Example": J = cos(sin(x^2) + 3x^2), written in the staged form the
slide uses for its forward/backward tables (t, u1, u2, u, J).

References are the closed-form derivatives worked out by hand:
    dy/dx = z e^{xz} + z/log x - z/log(x)^2
            + (cos(log x)/x - z sin(log x)) e^{-xz}
    dy/dz = x e^{xz} + x/log x - x sin(log x) e^{-xz}
    dJ/dx = -sin(u) (cos(t) + 3) 2x,   t = x^2,  u = sin(t) + 3t
"""

import math

import gradgen

QUIZ1_WRT = ("x", "z")
QUIZ1_POINT = dict(x=2.0, z=3.0)
STAGED_POINT = dict(x=2.0)


def quiz1(x, z):
    y = math.exp(x * z) + x * z / math.log(x) + math.sin(math.log(x)) / math.exp(x * z)
    return y


def staged(x):
    t = x ** 2
    u1 = math.sin(t)
    u2 = 3 * t
    u = u1 + u2
    J = math.cos(u)
    return J


def quiz1_hand(x, z):
    e, lx = math.exp(x * z), math.log(x)
    dy_dx = z * e + z / lx - z / lx ** 2 + (math.cos(lx) / x - z * math.sin(lx)) / e
    dy_dz = x * e + x / lx - x * math.sin(lx) / e
    return dy_dx, dy_dz


def staged_hand(x):
    t = x ** 2
    u = math.sin(t) + 3 * t
    return -math.sin(u) * (math.cos(t) + 3) * 2 * x


def check(name, got, want, rel=1e-9):
    print(f"  {name:>5}  gradgen {got: .17g}   reference {want: .17g}")
    if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-15):
        raise SystemExit(f"{name}: gradgen's gradient disagrees with the reference")


def main():
    g1 = gradgen.grad(quiz1, wrt=QUIZ1_WRT)
    print(g1.source)
    print(f"Quiz #1: y = {quiz1(**QUIZ1_POINT)!r}")
    for name, a, b in zip(("dy/dx", "dy/dz"), g1(**QUIZ1_POINT), quiz1_hand(**QUIZ1_POINT)):
        check(name, a, b)

    g2 = gradgen.grad(staged)
    print(g2.source)
    print(f"Staged example: J = {staged(**STAGED_POINT)!r}")
    check("dJ/dx", g2(**STAGED_POINT), staged_hand(**STAGED_POINT))
    print("ok")


if __name__ == "__main__":
    main()
