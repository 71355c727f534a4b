"""Dispatch: the held function runs its latest call's specialization behind a guard; every
call the guard turns away is looked up by key, and each gives the right gradient.

Oracles: d/dw sum(w * x) = x summed over the axes w was broadcast along, d/dx = w spread over
x (``_weighted_sum_gradients_hold``); for the two-layer net, the seed's hand-written backward.
"""

import inspect
import math
import threading
import traceback

import numpy as np
import pytest

import gradgen
from gradgen import dispatch
from tests import seed_functions as seeds

rng = np.random.default_rng(5)


class _Tagged(np.ndarray):
    """An ndarray subclass: the same shape and dtype as a plain array, another class."""


def _weighted_sum_gradients_hold(gradient, w, data):
    grad_w, grad_x = gradient(w, data)
    assert np.shape(grad_w) == np.shape(w) and np.shape(grad_x) == np.shape(data)
    np.testing.assert_allclose(grad_w, np.sum(data, axis=tuple(range(np.ndim(data) - np.ndim(w)))), rtol=1e-6)
    np.testing.assert_allclose(grad_x, np.broadcast_to(w, np.shape(data)), rtol=1e-6)
    if all(isinstance(a, np.ndarray) for a in (w, data)):  # numpy's promotion: float32 stays float32
        precision = np.result_type(w, data, 1.0).itemsize
        assert grad_w.dtype.kind == grad_x.dtype.kind == "f"
        assert grad_w.dtype.itemsize == precision and grad_x.dtype.itemsize == precision
    return grad_w, grad_x


def _counting(gradient, name):
    """Count the calls of one of the held function's global helpers (``__gradgen_dispatch``...)."""
    calls = []
    helper = gradient.__globals__[name]

    def counted(*args, **kwargs):
        calls.append(args)
        return helper(*args, **kwargs)

    gradient.__globals__[name] = counted
    return calls


def _two_layer_hand_backward(W1, W2, x, y):
    """Seed 003's hand-written backward (lines 12-14 and 18-22)."""
    s = x.dot(W1)
    a = np.maximum(s, 0)
    dy_hat = a.dot(W2) - y
    dW2 = a.T.dot(dy_hat)
    dW1 = x.T.dot((s > 0) * dy_hat.dot(W2.T))
    return dW1, dW2


def keyword_only_seed(w, x, scale=2.0):
    return scale * w * x


def scaled_weighted_sum(w, x, scale=2.0):
    return scale * np.sum(w * x)


def product_sum(a, /, b, *, c):
    return np.sum(a * b * c)


def doubled_sine(x):
    return 2.0 * np.sin(x)


def sum_times_log(w, c):
    return np.sum(w) * math.log(c)


def test_the_dispatcher_fast_path_follows_changing_shapes_dtypes_and_classes():
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    vectors = {n: (rng.normal(size=n), rng.normal(size=n)) for n in (3, 4)}
    calls = [
        vectors[3], vectors[3], vectors[4], vectors[3], vectors[4], vectors[4],
        (vectors[3][0], rng.normal(size=(2, 3))),  # broadcast: a new specialization sums grad_w
        (vectors[3][0], rng.normal(size=(2, 3))),
        (vectors[3][0], rng.normal(size=(5, 3))),
        tuple(v.astype(np.float32) for v in vectors[3]),  # same shape, another dtype
        tuple(v.astype(">f8") for v in vectors[3]),  # an equal dtype in the other byte order
        (vectors[3][0].view(_Tagged), vectors[3][1]),  # same shape and dtype, another class
        (np.float64(1.5), vectors[3][1]),  # a numpy scalar where an array was
        (2.5, vectors[3][1]),  # a Python number
        vectors[3],  # an array where a number was, other arguments unchanged
        (2.5, vectors[4][1]),
        vectors[3],
        tuple(np.array([1, -2, 3]) for _ in range(2)),  # integers: float gradients
    ]
    for w, data in calls * 2:
        _weighted_sum_gradients_hold(gradient, w, data)


def test_a_repeated_call_runs_the_specialization_without_the_dispatcher():
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    dispatched = _counting(gradient, dispatch.DISPATCH)
    compiled = _counting(gradient, "__gradgen_compile_for")
    w, data = rng.normal(size=3), rng.normal(size=3)
    for _ in range(3):
        _weighted_sum_gradients_hold(gradient, w, data)
    assert (len(dispatched), len(compiled)) == (1, 1)
    _weighted_sum_gradients_hold(gradient, w[:2], data[:2])  # another shape
    _weighted_sum_gradients_hold(gradient, w.astype(np.float32), data.astype(np.float32))  # another dtype
    assert (len(dispatched), len(compiled)) == (3, 3)
    for _ in range(2):
        _weighted_sum_gradients_hold(gradient, w, data)  # back to the first: looked up, not compiled
    assert (len(dispatched), len(compiled)) == (4, 3)
    for _ in range(2):
        _weighted_sum_gradients_hold(gradient, 2.0, data)
    assert len(dispatched) == 5  # a Python number is decided by its class alone
    for _ in range(2):
        _weighted_sum_gradients_hold(gradient, w.view(_Tagged), data)
    assert len(dispatched) == 7  # another class is looked up on every call
    for _ in range(2):
        _weighted_sum_gradients_hold(gradient, w.astype(">f8"), data)
    assert len(dispatched) == 9  # so is a dtype that is not numpy's own object of its type
    guard_names = [name for name in gradient.__globals__ if name.startswith(("__gradgen_dtype", "__gradgen_class"))]
    assert sorted(guard_names) == ["__gradgen_class_float", "__gradgen_dtype_float32", "__gradgen_dtype_float64"]


def test_the_held_function_keeps_its_identity_signature_and_attributes():
    gradient = gradgen.value_and_grad(scaled_weighted_sum, wrt=(0, 1))
    signature, source, attributes = inspect.signature(gradient), gradient.source, (gradient.__qualname__, gradient.__doc__)
    for shape in [(3,), (2, 3), ()]:
        w, data = rng.normal(size=shape), rng.normal(size=shape)
        value, (grad_w, grad_x) = gradient(w, data)
        np.testing.assert_allclose(value, 2.0 * np.sum(w * data))
        np.testing.assert_allclose(grad_w, 2.0 * data)
        np.testing.assert_allclose(grad_x, 2.0 * w)
        assert inspect.signature(gradient) == signature and gradient.source == source
        assert (gradient.__qualname__, gradient.__doc__) == attributes and gradient.__defaults__ == (2.0,)
        assert "def value_and_grad_scaled_weighted_sum" in gradient.source_for(w, data)


def test_keyword_calls_and_defaults_reach_the_specialization():
    pullback = gradgen.vjp(keyword_only_seed, wrt=(0, 1))  # grad_out is keyword-only: f has defaults
    w, data, seed = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    for call in [
        lambda: pullback(w, data, grad_out=seed),
        lambda: pullback(x=data, w=w, grad_out=seed),
        lambda: pullback(w, data, 2.0, grad_out=seed),
        lambda: pullback(w, grad_out=seed, x=data, scale=2.0),
    ] * 2:
        grad_w, grad_x = call()
        np.testing.assert_allclose(grad_w, 2.0 * data * seed)
        np.testing.assert_allclose(grad_x, 2.0 * w * seed)
    grad_w, grad_x = pullback(w, data, scale=-1.0, grad_out=seed)
    np.testing.assert_allclose(grad_w, -data * seed)
    np.testing.assert_allclose(grad_x, -w * seed)


def test_positional_only_and_keyword_only_parameters_reach_every_specialization():
    gradient = gradgen.grad(product_sum, wrt=(0, 1, 2))
    for n in (3, 3, 4, 3):
        a, b, c = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
        for computed, expected in zip(gradient(a, b, c=c), (b * c, a * c, a * b)):
            np.testing.assert_allclose(computed, expected, rtol=1e-12)
    with pytest.raises(TypeError):
        gradient(a, b, c)  # c stays keyword-only


def test_a_jacobian_follows_shape_changes():
    jacobian = gradgen.jacobian(doubled_sine)
    for n in (3, 3, 5, 3):
        x = rng.normal(size=n)
        np.testing.assert_allclose(jacobian(x), np.diag(2.0 * np.cos(x)), rtol=1e-12)  # d(2 sin x_i)/dx_j


@pytest.mark.parametrize(
    "arguments",
    [
        (np.array(2.0), np.array(3.0)),  # 0-d arrays
        (np.array(2.0), rng.normal(size=3)),
        (rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)),
        (np.float32(1.5), rng.normal(size=(2, 3))),
        (rng.normal(size=3).view(_Tagged), rng.normal(size=3)),
        ([1.0, -2.0, 0.5], rng.normal(size=3)),  # a list where an array is expected
        (rng.normal(size=3), np.zeros(3, dtype=np.dtype(np.float64, metadata={"unit": "m"}))),  # equal dtype, another object
        (rng.integers(-3, 3, size=3), rng.normal(size=(4, 3))),
        (1.5, 2.5),
    ],
    ids=["0-d", "0-d-and-vector", "float32", "numpy-scalar", "subclass", "list", "dtype-with-metadata", "int-broadcast", "floats"],
)
def test_every_class_shape_and_dtype_after_a_warm_up_gets_its_own_right_gradient(arguments):
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    warm = rng.normal(size=3), rng.normal(size=3)
    for call in [warm, warm, arguments, arguments, warm, arguments]:
        _weighted_sum_gradients_hold(gradient, *call)


def test_alternating_shapes_beyond_the_cache_size_keep_giving_right_gradients():
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    points = [(rng.normal(size=n), rng.normal(size=n)) for n in range(1, dispatch._MAX_SPECIALIZATIONS + 4)]
    for _ in range(2):
        for n, point in enumerate(points):
            _weighted_sum_gradients_hold(gradient, *point)
            _weighted_sum_gradients_hold(gradient, *points[-1 - n])  # alternate ends
    assert len(gradient.__globals__["__gradgen_cache"]) <= dispatch._MAX_SPECIALIZATIONS


def test_a_call_that_cannot_specialize_raises_like_the_forward_and_the_next_one_works():
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    for _ in range(2):
        with pytest.raises(ValueError, match="broadcast"):
            gradient(np.ones(3), np.ones(4))
    _weighted_sum_gradients_hold(gradient, np.ones(3), np.ones(3))


def test_the_two_layer_net_after_a_shape_change_matches_the_hand_written_backward():
    gradient = gradgen.grad(seeds.two_layer_loss, wrt=("W1", "W2"))
    for batch in (32, 32, 5, 32, 5, 5):
        W1, W2 = rng.normal(size=(8, 16)), rng.normal(size=(16, 8))
        x, y = rng.normal(size=(batch, 8)), rng.normal(size=(batch, 8))
        for computed, expected in zip(gradient(W1, W2, x, y), _two_layer_hand_backward(W1, W2, x, y)):
            np.testing.assert_allclose(computed, expected, rtol=1e-12)


def test_threads_with_other_shapes_each_get_their_own_gradient():
    gradient = gradgen.grad(seeds.weighted_sum, wrt=(0, 1))
    failures = []

    def work(w, data):
        try:
            for _ in range(300):
                _weighted_sum_gradients_hold(gradient, w, data)
        except (AssertionError, ValueError, TypeError, NameError) as error:  # pragma: no cover  (reported below)
            failures.append(error)

    threads = [threading.Thread(target=work, args=(rng.normal(size=n), rng.normal(size=n))) for n in (2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_an_error_in_the_running_specialization_shows_its_line():
    gradient = gradgen.grad(sum_times_log, wrt=(0, 1))
    w = rng.normal(size=3)
    np.testing.assert_allclose(gradient(w, 2.0)[1], np.sum(w) / 2.0)
    with pytest.raises(ValueError, match="math domain error") as info:
        gradient(w, -1.0)  # the same classes, shapes and dtypes: the guarded code raises itself
    frames = [frame for frame in traceback.extract_tb(info.value.__traceback__) if frame.filename.startswith("<gradgen")]
    assert len(frames) == 1 and "math.log(c)" in frames[0].line
