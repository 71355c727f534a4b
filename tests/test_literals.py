"""Int literals in specialized code (passes/literals.py): spelled as floats where they meet a
float array, with every result the same bit for bit; kept where they meet anything else."""

import numpy as np
import pytest

import gradgen
from gradgen.ir import Constant, Equation, Graph, Value
from gradgen.passes.literals import float_literals

rng = np.random.default_rng(5)


def relu_net(W, x):
    s = x @ W
    return np.sum(np.maximum(s, 0) * (s >= 0) + np.minimum(s, 1))


def int_arithmetic(x):
    return np.sum((1 - x * x) / 3 + 2 * x - x / 2 + (x > 0) * (x < 1) * (x != 2) * (x == x))


def int_array_mask(w, k):
    # k stays an int array: np.maximum(k, 0) is an int maximum, its literal is left as written
    return np.sum(w * np.maximum(k, 0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "function, make_args",
    [
        (relu_net, lambda dt: (rng.normal(size=(3, 4)).astype(dt), np.concatenate([rng.normal(size=(4, 3)), np.zeros((1, 3))]).astype(dt))),
        (int_arithmetic, lambda dt: (np.array([-0.0, 0.0, 0.5, 2.0, -1.5, 3.0], dtype=dt),)),
    ],
)
def test_float_literals_give_the_generic_codes_gradients_bit_for_bit(function, make_args, dtype):
    args = make_args(dtype)
    gradient = gradgen.grad(function, wrt=0)
    specialized, generic = gradient(*args), gradient.generic(*args)
    assert specialized.dtype == generic.dtype
    np.testing.assert_array_equal(specialized.view(np.uint8), generic.view(np.uint8))
    source = gradient.source_for(*args)
    assert ", 0.0)" in source or "1.0 -" in source or "(1.0," in source, source


def test_the_relu_literal_is_a_float_in_specialized_code_only():
    W, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    gradient = gradgen.grad(relu_net, wrt=0)
    specialized = gradient.source_for(W, x)
    assert "np.maximum(s, 0.0)" in specialized and "s >= 0.0" in specialized, specialized
    assert "np.maximum(s, 0)" in gradient.source  # the generic code keeps what the user wrote
    # the oracle: d/dW sum(relu(s) * [s >= 0] + min(s, 1)) = x.T @ ([s > 0] + [s < 1])
    s = x @ W
    np.testing.assert_allclose(gradient(W, x), x.T @ ((s > 0) * 1.0 + (s < 1) * 1.0), rtol=1e-12)


def test_a_literal_meeting_an_int_array_keeps_its_type():
    w, k = rng.normal(size=4), np.array([-2, 0, 3, 5])
    gradient = gradgen.grad(int_array_mask, wrt=0)
    source = gradient.source_for(w, k)
    assert "np.maximum(k, 0)" in source, source
    np.testing.assert_array_equal(gradient(w, k), np.maximum(k, 0).astype(float))


# -- the pass on hand-built graphs ---------------------------------------------------------------


def _graph(op, constant, dtype="float64", params=()):
    x = Value(0, "x", False, shape=(3,), dtype=dtype)
    out = Value(1, "y", False, shape=(3,), dtype=dtype)
    return Graph((x,), (Equation(op, (x, Constant(constant)), (out,), params),), (out,))


def test_the_pass_rewrites_ints_met_by_float_arrays_and_nothing_else():
    assert float_literals(_graph("mul", 2)).equations[0].inputs[1] == Constant(2.0)
    assert float_literals(_graph("ge", 0, "float32")).equations[0].inputs[1] == Constant(0.0)
    for unchanged in (
        _graph("mul", 2, "int64"),  # an int array: 2.0 would make the product a float
        _graph("mul", True),  # a bool is not an int here
        _graph("mul", 2.5),  # already a float
        _graph("pow", 2),  # x ** 2 has its own fast path; the pass leaves powers alone
        _graph("maximum", 0, params=(("lib", "builtins"),)),  # max(x, 0) may return the 0 itself
        _graph("mul", 2**53 + 1),  # no float64 holds it exactly
        _graph("mul", 16777217, "float32"),  # 2**24 + 1 is no float32
    ):
        assert float_literals(unchanged) is unchanged
