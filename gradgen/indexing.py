"""Lowering of subscripts: ``x[1:, ::2, None, ..., i]`` -> one ``index`` equation.

The index becomes the ``key`` param, a tuple with one entry per position:

* an int ``n``;
* ``("slice", start, stop, step)``, each an int, ``None``, or ``DYNAMIC``;
* ``("newaxis",)`` for ``None``/``np.newaxis``, ``("ellipsis",)`` for ``...``;
* ``("list", (0, 2, 0))`` for a list of constant integers (numpy's "fancy" indexing: a copy,
  and a position may repeat);
* ``DYNAMIC``: a run-time value (a parameter ``i``, ``len(x) - 1``), passed as an input.

Run-time values are the inputs after ``x``, in the order their markers appear. The backward
scatters the gradient into zeros shaped like ``x`` (``runtime.unindex``), adding up repeated
positions; code specialized for shapes assigns it into ``np.zeros`` of ``x``'s shape instead,
or adds it into the slot of the gradient it is summed with (``passes/scatters.py``). Other lists, tuples and arrays of indices are refused; ``x.shape[i]`` is ``np.size(x, i)``; a
constant index into a Python tuple picks the element at compile time.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Hashable

from gradgen import call_binding, ops
from gradgen.errors import UnsupportedSyntaxError
from gradgen.ir import Constant, Value

if TYPE_CHECKING:
    from gradgen.lowering import ExpressionLowering

_FANCY_HINT = (
    "supported indices: integers (also run-time ones), slices with steps, None/np.newaxis, ... "
    "and lists of constant integers (x[[0, 2]]); select with np.where, or index one position at a time"
)


def lower_subscript(lowering: ExpressionLowering, node: ast.Subscript) -> Any:
    """The value of ``node`` (a load)."""
    target = node.value
    if isinstance(target, ast.Attribute) and target.attr == "shape":
        array = lowering.expression(target.value)
        if isinstance(array, Value):
            return _shape_entry(lowering, array, node)
    base = lowering.expression(target)
    if isinstance(base, tuple):
        return _tuple_item(lowering, base, node)
    if isinstance(base, Constant):
        # Python refuses it too ('float' object is not subscriptable), and the emitted 0.5[i]
        # would not even compile cleanly: say so here, where the user's line is known.
        lowering.fail(UnsupportedSyntaxError, node, f"{base.value!r} is a number, which cannot be indexed", "index arrays and tuples: x[i]")
    key, dynamic = lower_key(lowering, node)
    inputs = (lowering.atom(base, target), *dynamic)
    return lowering.builder.add("index", inputs, (("key", key),), lowering.location(node))


def lower_key(lowering: ExpressionLowering, node: ast.Subscript) -> tuple[tuple[Hashable, ...], tuple[Value, ...]]:
    """The ``key`` param of ``node``'s index and the run-time values filling its DYNAMIC markers
    (shared by reads ``x[key]`` and writes ``x[key] = v``, see ``item_writes.py``)."""
    entries = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    dynamic: list[Value] = []
    key = tuple(_entry(lowering, entry, dynamic) for entry in entries)
    return key, tuple(dynamic)


def _shape_entry(lowering: ExpressionLowering, array: Value, node: ast.Subscript) -> Value:
    axis = lowering.expression(node.slice)
    if not _is_int(axis):
        lowering.fail(UnsupportedSyntaxError, node.slice, "x.shape[...] needs a constant integer index", "write x.shape[0], x.shape[-1]...")
    return call_binding.bind(lowering, "size", None, [array], {"axis": axis}, node)


def _tuple_item(lowering: ExpressionLowering, items: tuple[Any, ...], node: ast.Subscript) -> Any:
    if isinstance(node.slice, ast.Slice):
        bounds = [None if part is None else lowering.expression(part) for part in (node.slice.lower, node.slice.upper, node.slice.step)]
        if all(b is None or _is_int(b) for b in bounds):
            return items[slice(*(None if b is None else b.value for b in bounds))]
    else:
        index = lowering.expression(node.slice)
        if _is_int(index) and -len(items) <= index.value < len(items):
            return items[index.value]
    lowering.fail(UnsupportedSyntaxError, node, "a tuple can only be indexed with a constant in range", "unpack it instead: a, b = t")


def _entry(lowering: ExpressionLowering, node: ast.expr, dynamic: list[Value]) -> Hashable:
    if isinstance(node, ast.Slice):
        return ("slice", *(_bound(lowering, part, dynamic) for part in (node.lower, node.upper, node.step)))
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return ("ellipsis",)
    if isinstance(node, ast.List) and node.elts:
        positions = [lowering.expression(element) for element in node.elts]
        if all(_is_int(position) for position in positions):
            return ("list", tuple(position.value for position in positions))
    if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
        lowering.fail(UnsupportedSyntaxError, node, "indexing with this list of indices is not supported", _FANCY_HINT)
    value = lowering.expression(node)
    if _is_none(value):
        return ("newaxis",)
    if _is_int(value):
        return value.value
    if isinstance(value, Value):
        dynamic.append(value)
        return ops.DYNAMIC
    lowering.fail(UnsupportedSyntaxError, node, f"'{ast.unparse(node)}' is not supported as an index", _FANCY_HINT)


def _bound(lowering: ExpressionLowering, node: ast.expr | None, dynamic: list[Value]) -> Hashable:
    if node is None:
        return None
    value = lowering.expression(node)
    if _is_none(value):
        return None
    if _is_int(value):
        return value.value
    if isinstance(value, Value):
        dynamic.append(value)
        return ops.DYNAMIC
    lowering.fail(UnsupportedSyntaxError, node, f"'{ast.unparse(node)}' is not supported as a slice bound", "use integers")


def _is_int(value: Any) -> bool:
    return isinstance(value, Constant) and isinstance(value.value, int) and not isinstance(value.value, bool)


def _is_none(value: Any) -> bool:
    from gradgen.lowering import PythonObject

    return (isinstance(value, Constant) and value.value is None) or (isinstance(value, PythonObject) and value.obj is None)
