"""The "two-layer neural network in 25 lines of code" of seed 003, trained with gradgen.

The seed computes the loss of a ReLU net that regresses y = sin(x) and then
backpropagates by hand (dy_hat, dW2, da, ds, dW1). Here the forward lines
become a function, gradgen writes the backward pass, and the seed's
hand-written backward is kept as the reference for one gradient.
"""

import numpy as np

import gradgen

WRT = ("W1", "W2")
D, H, N = 8, 64, 32
# The seed's learning rate: the loss is a sum (not a mean) over the batch,
# so the gradients are large; at 1e-3 some initializations already diverge.
LEARNING_RATE = 1e-4
STEPS = 300

_rng = np.random.default_rng(0)
_x = _rng.standard_normal((N, D))
POINT = dict(W1=_rng.standard_normal((D, H)), W2=_rng.standard_normal((H, D)), x=_x, y=np.sin(_x))


def loss(W1, W2, x, y):
    s = x.dot(W1)
    a = np.maximum(s, 0)
    y_hat = a.dot(W2)
    return 0.5 * np.sum((y_hat - y) ** 2.0)


def seed_backward(W1, W2, x, y):
    s = x.dot(W1)
    a = np.maximum(s, 0)
    y_hat = a.dot(W2)
    dy_hat = y_hat - y
    dW2 = a.T.dot(dy_hat)
    da = dy_hat.dot(W2.T)
    ds = (s > 0) * da
    dW1 = x.T.dot(ds)
    return dW1, dW2


def check(name, got, want, rel=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    err = np.max(np.abs(got - want)) / np.max(np.abs(want)) if got.shape == want.shape else np.inf
    print(f"d{name}: shape {got.shape}, gradgen vs seed backward: max relative error {err:.1e}")
    print(f"  gradgen   {got.ravel()[:4]} ...\n  reference {want.ravel()[:4]} ...")
    if not err <= rel:
        raise SystemExit(f"d{name}: gradgen's gradient disagrees with the seed's backward")


def main():
    dloss = gradgen.grad(loss, wrt=WRT)
    print(dloss.source)

    for name, a, b in zip(WRT, dloss(**POINT), seed_backward(**POINT)):
        check(name, a, b)

    # Train as in the seed (a fresh random batch every step), but measure
    # progress on one fixed held-out batch so the numbers are comparable.
    rng = np.random.default_rng(1)
    W1, W2 = POINT["W1"].copy(), POINT["W2"].copy()
    x_eval = rng.standard_normal((N, D))
    y_eval = np.sin(x_eval)
    initial = loss(W1, W2, x_eval, y_eval)
    for t in range(STEPS):
        x = rng.standard_normal((N, D))
        y = np.sin(x)
        dW1, dW2 = dloss(W1, W2, x, y)
        W1 -= LEARNING_RATE * dW1
        W2 -= LEARNING_RATE * dW2
        if t % 50 == 0:
            print(f"step {t:3d}  held-out loss {loss(W1, W2, x_eval, y_eval):10.2f}")
    final = loss(W1, W2, x_eval, y_eval)
    print(f"held-out loss: {initial:.2f} before training, {final:.2f} after {STEPS} steps")
    # Typically falls ~100x; demand a 10x drop so the check is robust, not tuned.
    if not final < initial / 10:
        raise SystemExit("training with gradgen's gradient did not reduce the loss")
    print("ok")


if __name__ == "__main__":
    main()
