"""The public API: grad / value_and_grad, their arguments, and what the compiled function returns."""

from __future__ import annotations

import functools
import inspect
import math
import traceback

import numpy as np
import pytest

import gradgen
from gradgen import GradgenError, NonScalarOutputError

# -- functions differentiated below (gradgen reads their source from this file) ---------------


def product_plus_square(x, y):
    return x * y + x**2


def three_parameters(w, b, x):
    return math.tanh(w * x + b)


def unused_parameter(x, y):
    return x * 2.0


def with_aux(x):
    s = x * 3.0
    return s * s, s


def with_tuple_aux(x, y):
    s = x * y
    return s + x, (s, math.exp(x))


def log_of(x):
    return math.log(x)


def x_log_x(x):
    return x * math.log(x)


def array_output(x):
    return x * 2.0


def squared_norm(x):
    return np.sum(x * x)


def doubled(function):
    @functools.wraps(function)
    def wrapper(*args):
        return 2.0 * function(*args)

    return wrapper


@doubled
def doubled_square(x):
    return x * x


@gradgen.grad
def grad_of_cube(x):
    return x * x * x


@gradgen.grad(wrt=("w", "b"))
def grad_of_line(w, b, x):
    return w * x + b


@gradgen.value_and_grad(wrt=1)
def value_and_grad_of_line(w, b, x):
    return w * x + b


# -- decorators -----------------------------------------------------------------------------


def test_bare_decorator() -> None:
    assert grad_of_cube(2.0) == pytest.approx(12.0)
    assert grad_of_cube.forward(2.0) == pytest.approx(8.0)


def test_decorator_with_arguments() -> None:
    assert grad_of_line(2.0, 1.0, 5.0) == pytest.approx((5.0, 1.0))
    assert grad_of_line.wrt == ("w", "b")
    assert value_and_grad_of_line(2.0, 1.0, 5.0) == pytest.approx((11.0, 1.0))


# -- wrt ------------------------------------------------------------------------------------


def test_wrt_defaults_to_the_first_parameter() -> None:
    assert gradgen.grad(product_plus_square)(3.0, 5.0) == pytest.approx(11.0)


@pytest.mark.parametrize("wrt", ["y", 1])
def test_wrt_by_name_or_index_gives_one_gradient(wrt) -> None:
    gradient = gradgen.grad(product_plus_square, wrt=wrt)(3.0, 5.0)
    assert not isinstance(gradient, tuple)
    assert gradient == pytest.approx(3.0)


@pytest.mark.parametrize("wrt", [("y",), (1,), ["y"]])
def test_a_one_element_tuple_gives_a_one_element_tuple(wrt) -> None:
    gradients = gradgen.grad(product_plus_square, wrt=wrt)(3.0, 5.0)
    assert isinstance(gradients, tuple) and len(gradients) == 1
    assert gradients[0] == pytest.approx(3.0)


def test_gradients_come_in_wrt_order() -> None:
    w, b, x = 0.3, -0.2, 1.7
    d = 1.0 - math.tanh(w * x + b) ** 2
    by_name = gradgen.grad(three_parameters, wrt=("x", "w", "b"))(w, b, x)
    assert by_name == pytest.approx((d * w, d * x, d))
    mixed = gradgen.grad(three_parameters, wrt=(2, "b", 0))(w, b, x)
    assert mixed == pytest.approx((d * w, d, d * x))
    assert gradgen.grad(three_parameters, wrt=("x", "w", "b")).wrt == ("x", "w", "b")


def test_keyword_arguments_to_the_compiled_function() -> None:
    dfunction = gradgen.grad(three_parameters, wrt=("w", "b"))
    assert dfunction(b=-0.2, x=1.7, w=0.3) == pytest.approx(dfunction(0.3, -0.2, 1.7))


# -- value_and_grad and has_aux -------------------------------------------------------------


def test_value_and_grad_returns_value_then_gradients() -> None:
    value, gradients = gradgen.value_and_grad(product_plus_square, wrt=("x", "y"))(3.0, 5.0)
    assert value == pytest.approx(24.0)
    assert gradients == pytest.approx((11.0, 3.0))
    value, gradient = gradgen.value_and_grad(product_plus_square)(3.0, 5.0)
    assert (value, gradient) == pytest.approx((24.0, 11.0))


def test_grad_with_aux_returns_gradients_then_aux() -> None:
    gradient, aux = gradgen.grad(with_aux, has_aux=True)(1.0)
    assert gradient == pytest.approx(18.0)
    assert aux == pytest.approx(3.0)


def test_value_and_grad_with_aux_returns_value_and_aux_then_gradients() -> None:
    (value, aux), gradient = gradgen.value_and_grad(with_aux, has_aux=True)(1.0)
    assert (value, aux, gradient) == pytest.approx((9.0, 3.0, 18.0))


def test_aux_can_be_a_tuple_or_is_refused_cleanly() -> None:
    # A tuple aux is not in the documented subset yet: it may be refused, but only with a GradgenError.
    try:
        compiled = gradgen.value_and_grad(with_tuple_aux, wrt=(0, 1), has_aux=True)
    except GradgenError:
        return
    (value, aux), gradients = compiled(2.0, 3.0)
    assert value == pytest.approx(8.0)
    assert aux == pytest.approx((6.0, math.exp(2.0)))
    assert gradients == pytest.approx((4.0, 2.0))
    gradients, aux = gradgen.grad(with_tuple_aux, wrt=(0, 1), has_aux=True)(2.0, 3.0)
    assert gradients == pytest.approx((4.0, 2.0))
    assert aux == pytest.approx((6.0, math.exp(2.0)))


# -- what the compiled function carries ------------------------------------------------------


@pytest.mark.parametrize("transform", [gradgen.grad, gradgen.value_and_grad])
def test_compiled_function_attributes(transform) -> None:
    compiled = transform(product_plus_square, wrt=("x", "y"))
    assert isinstance(compiled.source, str) and "def " in compiled.source
    assert compiled.forward is product_plus_square
    assert compiled.wrt == ("x", "y")
    assert "product_plus_square" in repr(compiled)
    assert callable(compiled)
    assert list(inspect.signature(compiled).parameters) == ["x", "y"]


def test_unoptimized_code_computes_the_same() -> None:
    optimized = gradgen.grad(three_parameters, wrt=(0, 1, 2))
    plain = gradgen.grad(three_parameters, wrt=(0, 1, 2), optimize=False)
    assert plain(0.3, -0.2, 1.7) == pytest.approx(optimized(0.3, -0.2, 1.7))


def test_compiling_twice_gives_independent_functions() -> None:
    first = gradgen.grad(product_plus_square, wrt="x")
    second = gradgen.grad(product_plus_square, wrt="y")
    assert first(3.0, 5.0) == pytest.approx(11.0)
    assert second(3.0, 5.0) == pytest.approx(3.0)


# -- numbers in, numbers out -----------------------------------------------------------------


def test_integer_arguments_give_float_gradients() -> None:
    gradients = gradgen.grad(product_plus_square, wrt=(0, 1))(3, 5)
    assert gradients == (11.0, 3.0)
    assert all(type(g) is float for g in gradients), [type(g) for g in gradients]
    value, gradient = gradgen.value_and_grad(product_plus_square, wrt=1)(3, 5)
    assert type(gradient) is float


def test_an_unused_parameter_gets_zero() -> None:
    gradients = gradgen.grad(unused_parameter, wrt=(0, 1))(2.0, 3.0)
    assert gradients == (2.0, 0.0)
    assert type(gradients[1]) is float
    assert gradgen.grad(unused_parameter, wrt="y")(2, 3) == 0.0
    array_gradient = gradgen.grad(unused_parameter, wrt="y")(2.0, np.ones(3))
    assert np.all(np.asarray(array_gradient) == 0.0)


def test_array_gradient_has_the_parameter_shape() -> None:
    x = np.arange(6.0).reshape(2, 3)
    gradient = gradgen.grad(squared_norm)(x)
    assert isinstance(gradient, np.ndarray) and gradient.shape == x.shape
    np.testing.assert_allclose(gradient, 2.0 * x)


def test_array_output_is_refused_when_called() -> None:
    dfunction = gradgen.grad(array_output)  # the kind of x is only known at call time
    assert dfunction(2.0) == pytest.approx(2.0)
    with pytest.raises(NonScalarOutputError) as info:
        dfunction(np.ones(3))
    assert "scalar" in str(info.value)
    with pytest.raises(NonScalarOutputError):
        gradgen.value_and_grad(array_output)(np.ones((2, 2)))


# -- errors raised while running the compiled code -------------------------------------------


def _emitted_frames(error: BaseException) -> list[traceback.FrameSummary]:
    return [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith("<gradgen")]


@pytest.mark.parametrize(
    "compiled",
    [gradgen.value_and_grad(log_of), gradgen.grad(x_log_x)],
    ids=["value_and_grad-log", "grad-x-log-x"],
)
def test_traceback_shows_the_emitted_line(compiled) -> None:
    with pytest.raises(ValueError) as info:
        compiled(-1.0)
    frames = _emitted_frames(info.value)
    assert frames, traceback.format_exception(info.value)
    for frame in frames:
        assert frame.line, f"no source text for {frame.filename}:{frame.lineno}"
        assert frame.line == compiled.source.splitlines()[frame.lineno - 1].strip()
    assert "log" in frames[-1].line
    assert "math domain error" in "".join(traceback.format_exception(info.value))


@pytest.mark.parametrize("function", [log_of, x_log_x], ids=["log", "x-log-x"])
def test_gradient_outside_the_domain_raises_like_the_forward(function) -> None:
    # The forward raises at x = -1; the gradient must not silently return a number there.
    with pytest.raises(ValueError):
        function(-1.0)
    with pytest.raises(ValueError):
        gradgen.grad(function)(-1.0)


def test_grad_of_a_compiled_gradient_compiles_or_refuses() -> None:
    # A second derivative: either supported, or a GradgenError (never an internal exception).
    try:
        second = gradgen.grad(grad_of_cube)
    except GradgenError:
        return
    assert second(2.0) == pytest.approx(12.0)


def test_a_wrapping_decorator_is_not_silently_ignored() -> None:
    # doubled_square(x) = 2 x^2 (functools.wraps sets __wrapped__ to the undecorated x^2):
    # gradgen must differentiate what the user calls, or refuse.
    assert doubled_square(3.0) == pytest.approx(18.0)
    try:
        dfunction = gradgen.grad(doubled_square)
    except GradgenError:
        return
    assert dfunction(3.0) == pytest.approx(12.0)


# -- the float guard's fallback is compiled on first use ---------------------------------------


def test_the_checked_fallback_is_compiled_only_when_a_call_needs_it():
    from tests import seed_functions

    g = gradgen.grad(seed_functions.only_x_matters, wrt=(0, 1))  # x * 2.0 + y * y: guarded by floats
    assert "is not float" in g.source
    assert g.fallback._built is None  # grad() did not build it
    assert g(1.5, -2.0) == (2.0, -4.0)
    assert g.fallback._built is None  # floats take the fast path
    x, y = np.array([1.0, 2.0]), np.float64(3.0)
    with pytest.raises(NonScalarOutputError):
        g(x, y)  # the checked code refuses the array output, as the forward would make one
    assert g.fallback._built is not None
    assert g.__globals__["__gradgen_fallback"] is g.fallback._built  # later calls go straight there
    assert g(np.float64(1.5), y) == (2.0, 6.0)


def test_the_fallbacks_source_is_there_on_request():
    from tests import seed_functions

    g = gradgen.grad(seed_functions.only_x_matters, wrt=(0, 1))
    assert "def grad_only_x_matters" in g.fallback.source
    assert "is not float" not in g.fallback.source


# -- the dtype of a gradient ---------------------------------------------------------------------


def _masked(x):
    return np.sum(x * (x > 0))  # the mask times 1.0 is float64 whatever x is


def _mixed(x, w):
    return np.sum(np.tanh(x * w))  # a float32 x times a float64 w computes in float64


def _square(x):
    return x * x


def _loop_rows(x, w):
    total = 0.0
    for t in range(x.shape[0]):
        total = total + np.sum(np.sin(x[t]) * w)
    return total


_FLOAT_DTYPE_CASES = [
    (_masked, lambda dt: (np.array([-1.5, 0.5, 2.0], dtype=dt),), lambda x: (x > 0) * 1.0),
    (_mixed, lambda dt: (np.linspace(-1, 1, 4).astype(dt), np.linspace(0.5, 2, 4)), lambda x, w: w * (1 - np.tanh(x * w) ** 2)),
    (_loop_rows, lambda dt: (np.linspace(-1, 1, 6).reshape(3, 2).astype(dt), np.array([0.5, -2.0])), lambda x, w: np.cos(x) * w),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("function, make_args, derivative", _FLOAT_DTYPE_CASES, ids=["mask", "mixed-dtypes", "loop-over-rows"])
def test_the_gradient_of_a_float_array_has_its_dtype_in_specialized_and_generic_code(function, make_args, derivative, dtype):
    args = make_args(dtype)
    gradient = gradgen.grad(function, wrt=0)
    expected = derivative(*(np.asarray(a, dtype=np.float64) for a in args))
    tolerance = {np.float16: 1e-2, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for computed in (gradient(*args), gradient.generic(*args)):
        assert isinstance(computed, np.ndarray) and computed.dtype == dtype and computed.shape == args[0].shape
        np.testing.assert_allclose(computed.astype(np.float64), expected, rtol=tolerance, atol=tolerance)


def test_a_numpy_float_scalar_gets_a_gradient_of_its_type():
    gradient = gradgen.grad(_masked)
    for argument in (np.float32(1.5), np.float16(-0.5)):
        computed = gradient(argument)
        assert type(computed) is type(argument) and computed == (argument > 0)


def test_int_arrays_and_python_numbers_get_float_gradients():
    gradient = gradgen.grad(_mixed, wrt=(0, 1))
    grad_x, grad_w = gradient(np.arange(3), np.array([0.5, 1.0, 2.0]))
    assert grad_x.dtype == np.float64 and grad_w.dtype == np.float64
    np.testing.assert_allclose(grad_x, np.array([0.5, 1.0, 2.0]) * (1 - np.tanh(np.arange(3) * np.array([0.5, 1.0, 2.0])) ** 2), rtol=1e-12)
    assert type(gradgen.grad(_square)(3)) is float
