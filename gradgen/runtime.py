"""Helpers the emitted backward code calls where a gradient's shape is only known at run time.

Scalar-only code never calls these (the emitter knows scalars statically); array code calls
them where numpy broadcasting or a reduction must be undone. Each is small and allocation-aware.
"""

from __future__ import annotations

import numpy as np


def scalar_sign(x: float) -> float:
    """sign(x) for a Python scalar: -1.0, 0.0 or 1.0 (0.0 at 0, nan for nan)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0


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
    return np.full(shape, gradient, dtype=np.result_type(gradient, 1.0))


def count_reduced(like, axis=None) -> int:
    """How many elements a reduction over ``axis`` combines (the divisor of a mean)."""
    shape = np.shape(like)
    count = 1
    for a in _normalized_axes(axis, len(shape)):
        count *= shape[a]
    return count


def matmul_vjp_left(gradient, left, right):
    """Gradient of ``left @ right`` with respect to ``left`` (numpy's 1-D promotion undone)."""
    left_ndim, right_ndim = np.ndim(left), np.ndim(right)
    if left_ndim == 0 or right_ndim == 0:  # np.dot with a scalar is a product
        return unbroadcast(gradient * right, left)
    if right_ndim == 1:
        if left_ndim == 1:
            return gradient * right
        return np.multiply.outer(gradient, right)
    if left_ndim == 1:
        return right @ gradient
    return unbroadcast(gradient @ np.swapaxes(right, -1, -2), left)


def matmul_vjp_right(gradient, left, right):
    """Gradient of ``left @ right`` with respect to ``right`` (numpy's 1-D promotion undone)."""
    left_ndim, right_ndim = np.ndim(left), np.ndim(right)
    if left_ndim == 0 or right_ndim == 0:
        return unbroadcast(gradient * left, right)
    if left_ndim == 1:
        if right_ndim == 1:
            return gradient * left
        return np.multiply.outer(left, gradient)
    if right_ndim == 1:
        return np.swapaxes(left, -1, -2) @ gradient
    return unbroadcast(np.swapaxes(left, -1, -2) @ gradient, right)


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
