"""Helpers the emitted backward code calls where a gradient's shape is only known at run time.

Scalar-only code never calls these (the emitter knows scalars statically); array code calls
them where numpy broadcasting or a reduction must be undone. Each is small and allocation-aware.
"""

from __future__ import annotations

import math

import numpy as np


def scalar_sign(x: float) -> float:
    """sign(x) for a Python scalar: -1.0, 0.0 or 1.0 (0.0 at 0, nan for nan)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0


def scalar_divide(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` for Python numbers with IEEE results: +-inf or nan at 0."""
    try:
        return numerator / denominator
    except ZeroDivisionError:
        if numerator == 0 or numerator != numerator:
            return math.nan
        return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)


def scalar_power(base: float, exponent: float) -> float:
    """``base ** exponent`` for Python numbers with IEEE results: inf for 0 to a negative power."""
    try:
        return base ** exponent
    except ZeroDivisionError:
        return math.inf


def unbroadcast(gradient, like):
    """Sum ``gradient`` over the axes numpy broadcast ``like`` along, giving ``like``'s shape."""
    shape = np.shape(like)
    if np.shape(gradient) == shape:
        return gradient
    if not shape:
        return np.sum(gradient)
    extra = np.ndim(gradient) - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and np.shape(gradient)[extra + i] != 1
    )
    summed = np.sum(gradient, axis=axes, keepdims=True)
    return summed.reshape(shape)


def _normalized_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def expand_reduced(gradient, like, axis=None, keepdims=False):
    """Spread the gradient of a sum over ``axis`` back to the shape of the summed array."""
    shape = np.shape(like)
    if not keepdims:
        for a in sorted(_normalized_axes(axis, len(shape))):
            gradient = np.expand_dims(gradient, a)
    spread = np.full(shape, gradient, dtype=np.result_type(gradient, 1.0))
    return spread[()] if not shape else spread  # a scalar stays a scalar, not a 0-d array


def count_reduced(like, axis=None) -> int:
    """How many elements a reduction over ``axis`` combines (the divisor of a mean)."""
    shape = np.shape(like)
    count = 1
    for a in _normalized_axes(axis, len(shape)):
        count *= shape[a]
    return count


def _promoted(gradient, left, right):
    """``left @ right`` as numpy computes it: 1-D operands promoted to matrices, and the
    gradient given back the axes the promotion removed from the result."""
    if np.ndim(left) == 1:
        left, gradient = np.reshape(left, (1, -1)), np.expand_dims(gradient, -2)
    if np.ndim(right) == 1:
        right, gradient = np.reshape(right, (-1, 1)), np.expand_dims(gradient, -1)
    return gradient, left, right


def _reduced_to(gradient, shape):
    """Sum the broadcast batch axes of ``gradient`` away and give it ``shape``."""
    extra = np.ndim(gradient) - len(shape)
    if extra > 0:
        gradient = np.sum(gradient, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(np.shape(gradient)[:-2]) if i < len(shape) - 2 and shape[i] == 1 and n != 1)
    if stretched:
        gradient = np.sum(gradient, axis=stretched, keepdims=True)
    return np.reshape(gradient, shape)


def dot_vjp_left(gradient, left, right):
    """Gradient of ``np.dot(left, right)`` with respect to ``left``.

    For N-D arrays np.dot is not matmul: it contracts left's last axis with right's second to
    last and takes an outer product over the other axes.
    """
    if max(np.ndim(left), np.ndim(right)) <= 2 or min(np.ndim(left), np.ndim(right)) == 0:
        return matmul_vjp_left(gradient, left, right)  # a product with a scalar, or matmul
    p, q = np.ndim(left), np.ndim(right)
    if q == 1:
        return np.multiply.outer(gradient, right)
    right_axes = [*range(q - 2), q - 1]
    return np.tensordot(gradient, right, axes=(list(range(p - 1, p - 1 + q - 1)), right_axes))


def dot_vjp_right(gradient, left, right):
    """Gradient of ``np.dot(left, right)`` with respect to ``right`` (see ``dot_vjp_left``)."""
    if max(np.ndim(left), np.ndim(right)) <= 2 or min(np.ndim(left), np.ndim(right)) == 0:
        return matmul_vjp_right(gradient, left, right)  # a product with a scalar, or matmul
    p, q = np.ndim(left), np.ndim(right)
    contracted = np.tensordot(left, gradient, axes=(list(range(p - 1)), list(range(p - 1))))
    return contracted if q == 1 else np.moveaxis(contracted, 0, -2)


def matmul_vjp_left(gradient, left, right):
    """Gradient of ``left @ right`` with respect to ``left`` (batched, 1-D promotion undone)."""
    if np.ndim(left) == 0 or np.ndim(right) == 0:  # np.dot with a scalar is a product
        return unbroadcast(gradient * right, left)
    if np.ndim(left) == 1 and np.ndim(right) == 1:
        return gradient * right
    promoted_gradient, _, promoted_right = _promoted(gradient, left, right)
    result = promoted_gradient @ np.swapaxes(promoted_right, -1, -2)
    promoted_shape = np.shape(left) if np.ndim(left) > 1 else (1, np.shape(left)[0])
    return np.reshape(_reduced_to(result, promoted_shape), np.shape(left))


def matmul_vjp_right(gradient, left, right):
    """Gradient of ``left @ right`` with respect to ``right`` (batched, 1-D promotion undone)."""
    if np.ndim(left) == 0 or np.ndim(right) == 0:
        return unbroadcast(gradient * left, right)
    if np.ndim(left) == 1 and np.ndim(right) == 1:
        return gradient * left
    promoted_gradient, promoted_left, _ = _promoted(gradient, left, right)
    result = np.swapaxes(promoted_left, -1, -2) @ promoted_gradient
    promoted_shape = np.shape(right) if np.ndim(right) > 1 else (np.shape(right)[0], 1)
    return np.reshape(_reduced_to(result, promoted_shape), np.shape(right))


def reshape_like(gradient, like):
    """``gradient`` with the shape of ``like`` (the adjoint of every reshaping op)."""
    return np.reshape(gradient, np.shape(like))


def unindex(like, gradient, key):
    """The adjoint of ``like[key]``: zeros shaped like ``like`` with ``gradient`` added at ``key``
    (np.add.at where an index array may repeat a position)."""
    result = np.zeros(np.shape(like), dtype=np.result_type(like, gradient, 1.0))
    if _fancy(key):
        np.add.at(result, key, gradient)
    else:  # basic indexing selects each element at most once
        result[key] = gradient
    return result


def _fancy(key) -> bool:
    """Whether an index key holds a list or array of positions, which may repeat one."""
    return any(isinstance(entry, list) or (isinstance(entry, np.ndarray) and entry.ndim > 0) for entry in key)


def index_set(array, value, key):
    """``array`` with ``value`` written at ``key``, as a new array (``array`` is unchanged):
    the functional form of ``array[key] = value``, with numpy's casting and broadcasting."""
    result = np.array(array, copy=True)
    result[key] = value
    return result


def written_gradient(like, gradient, key):
    """The adjoint of the value ``index_set`` wrote at ``key``: ``gradient[key]`` summed back
    to ``like``'s shape (a scalar written into a slice gets the slice's sum). Always a new
    array, so that zeroing ``gradient[key]`` afterwards, in place, cannot change it."""
    selected = gradient[key]
    if _fancy(key):
        # A position written twice (H[[0, 0]] = v) keeps the last value: the others get no gradient.
        targets = np.arange(np.size(gradient)).reshape(np.shape(gradient))[key].ravel()
        _, last_from_end = np.unique(targets[::-1], return_index=True)
        kept = np.zeros(targets.size, dtype=bool)
        kept[targets.size - 1 - last_from_end] = True
        selected = selected * kept.reshape(np.shape(selected))
    if np.ndim(like) == 0:
        return float(np.sum(selected)) if isinstance(like, (int, float)) else np.sum(selected)
    return np.array(unbroadcast(selected, like), copy=True)


def unconcatenate(gradient, *parts, axis, index):
    """The block of ``gradient`` that ``parts[index]`` filled in ``np.concatenate(parts, axis)``."""
    sizes = [np.shape(part)[axis] for part in parts]
    start = sum(sizes[:index])
    key = [slice(None)] * np.ndim(gradient)
    key[axis] = slice(start, start + sizes[index])
    return gradient[tuple(key)]


def prod_others(x, axis=None):
    """For each element, the product of the other elements of its reduction group (no division,
    so zeros are exact): the exclusive products from the left times those from the right."""
    x = np.asarray(x)
    axes = _normalized_axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=np.result_type(x, 1.0))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, np.argsort(kept + list(axes)))


def inner_vjp_left(gradient, left, right):
    """Gradient of ``np.inner(left, right)`` (a sum over both last axes) for ``left``."""
    if np.ndim(left) == 0 or np.ndim(right) == 0:
        return unbroadcast(gradient * right, left)
    batch = np.ndim(left) - 1
    return np.tensordot(gradient, right, axes=(list(range(batch, np.ndim(gradient))), list(range(np.ndim(right) - 1))))


def inner_vjp_right(gradient, left, right):
    """Gradient of ``np.inner(left, right)`` for ``right``."""
    if np.ndim(left) == 0 or np.ndim(right) == 0:
        return unbroadcast(gradient * left, right)
    batch = np.ndim(left) - 1
    return np.tensordot(gradient, left, axes=(list(range(batch)), list(range(batch))))


def einsum_vjp(gradient, *operands, subscripts, index):
    """Gradient of ``np.einsum(subscripts, *operands)`` for ``operands[index]``: the einsum of
    the gradient with the other operands, into that operand's subscripts; letters only that
    operand has were summed, so its gradient is constant along them (broadcast back)."""
    backward, target = einsum_vjp_subscripts(subscripts, index)
    reached = backward.split("->")[1]
    others_operands = [operand for position, operand in enumerate(operands) if position != index]
    result = np.einsum(backward, gradient, *others_operands)
    if reached != target:
        shape = np.shape(operands[index])
        expanded = [shape[position] if letter in reached else 1 for position, letter in enumerate(target)]
        result = np.broadcast_to(np.reshape(result, expanded), shape).copy()
    return result


def einsum_vjp_subscripts(subscripts: str, index: int) -> tuple[str, str]:
    """The subscripts of the einsum of (gradient, the other operands) that gives operand
    ``index``'s gradient, and that operand's own subscripts. The result lacks the letters no
    other term has (``ij->i`` gives ``i->i`` for ``ij``)."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    target = terms[index]
    others = [term for position, term in enumerate(terms) if position != index]
    available = set(output).union(*others)
    reached = "".join(letter for letter in target if letter in available)
    return ",".join([output, *others]) + "->" + reached, target


def trace_vjp(gradient, like):
    """The adjoint of ``np.trace(like)``: ``gradient`` on the diagonal of the first two axes."""
    shape = np.shape(like)
    eye = np.eye(shape[0], shape[1]).reshape(shape[:2] + (1,) * (len(shape) - 2))
    return eye * gradient


def astype(x, dtype):
    """``np.float32(x)`` and friends: ``x`` as ``dtype`` (a numpy scalar for a number)."""
    return np.dtype(dtype).type(x)


def zeros_like(like):
    """A zero gradient for an argument the output does not depend on: float, like's shape."""
    if np.ndim(like) == 0:
        return 0.0
    return np.zeros(np.shape(like), dtype=np.result_type(like, 1.0))


class NonScalarOutput(Exception):
    """Raised by ``output_seed``; api.py turns it into gradgen's NonScalarOutputError."""


def output_seed(output) -> float:
    """1.0, the adjoint of a scalar output; refuses an array output at run time."""
    if type(output) is float or np.ndim(output) == 0:
        return 1.0
    from gradgen.errors import NonScalarOutputError

    raise NonScalarOutputError(
        f"grad() needs a scalar output, but the function returned an array of shape "
        f"{np.shape(output)}",
        hint="reduce it to a scalar (np.sum, np.mean), or use gradgen.vjp (vector-Jacobian "
        "products) or gradgen.jacobian for a vector output",
    )


def owned(gradient, argument=None):
    """``gradient``, copied if it is an array: a returned gradient never aliases an argument
    or another returned gradient, so updating one in place cannot change the other. With the
    ``argument`` it is the gradient of, in that argument's dtype (``in_dtype_of``)."""
    if argument is not None:
        cast = in_dtype_of(gradient, argument)
        if cast is not gradient:
            return cast  # a new array (or number) already
    return gradient.copy() if isinstance(gradient, np.ndarray) else gradient


def in_dtype_of(gradient, argument):
    """``gradient`` in ``argument``'s dtype when that is a float one (float32, float16...):
    numpy's promotion may have computed it wider. A Python number's, an int or bool array's
    gradient is left as it is (a float)."""
    dtype = getattr(argument, "dtype", None)
    if dtype is None or dtype.kind != "f" or getattr(gradient, "dtype", None) == dtype:
        return gradient
    if isinstance(gradient, (np.ndarray, np.generic)):
        return gradient.astype(dtype)
    return dtype.type(gradient)  # a Python float for a numpy float scalar


def mask(condition, gradient, taken=True):
    """``gradient`` where ``condition == taken``, exactly 0 elsewhere.

    Applied to gradients inside a branch of ``np.where``: the branch not taken may have
    computed nan or inf (``np.where(x > 0, np.log(x), 0.0)`` at 0), and its zero adjoint times
    that is nan. Where the condition does not line up with the gradient's shape (it was
    broadcast), the gradient is returned unchanged.
    """
    shape = np.shape(gradient)
    if np.broadcast_shapes(np.shape(condition), shape) != shape:
        return gradient
    return np.where(condition, gradient, 0.0) if taken else np.where(condition, 0.0, gradient)


def no_in_place_update(value, message: str, hint: str, where: tuple[str, int, int]) -> None:
    """Raise gradgen's located error if ``value`` is an array, which ``t += a`` would change in
    place under another name too."""
    if isinstance(value, np.ndarray):
        from gradgen.errors import SourceLocation, UnsupportedSyntaxError

        raise UnsupportedSyntaxError(message, SourceLocation(*where), hint)
