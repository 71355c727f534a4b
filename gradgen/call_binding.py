"""Binding a call's arguments to an op's inputs and static params (``np.max(x, axis=1)``).

Each op has a ``Signature``: how many leading positional arguments are graph inputs, then the
static params that may follow positionally or by keyword, with their defaults. Static params
must be compile-time constants (literals, module-level numbers, tuples of them) because the
derivative rule depends on them; a run-time size is accepted where the op spells its params
with ``DYNAMIC`` markers (``x.reshape(x.shape[0], -1)``, ``np.zeros((n, 3))``). Ops whose
arguments do not fit this mould (reshape, transpose, clip, einsum, casts...) get a binder.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable

import numpy as np

from gradgen import ops, recognized
from gradgen.errors import UnsupportedSyntaxError
from gradgen.ir import Atom, Constant, Params, Value

if TYPE_CHECKING:
    from gradgen.lowering import ExpressionLowering

REQUIRED = "<required>"
_REDUCTION = (("axis", None), ("keepdims", False))


@dataclass(frozen=True)
class Signature:
    # Leading positional arguments that are graph inputs; None: every positional argument is
    # one (np.einsum's operands).
    inputs: int | None
    params: tuple[tuple[str, Hashable], ...] = ()
    # The last input argument is a tuple of arrays, spread into inputs (np.concatenate((a, b))).
    spread: bool = False


SIGNATURES: dict[str, Signature] = {
    **{op: Signature(1, _REDUCTION) for op in ("sum", "mean", "max", "min", "prod")},
    "norm": Signature(1, (("ord", None), *_REDUCTION)),
    "expand_reduced": Signature(2, _REDUCTION),
    "count_reduced": Signature(1, (("axis", None),)),
    "prod_others": Signature(1, (("axis", None),)),
    "squeeze": Signature(1, (("axis", None),)),
    "expand_dims": Signature(1, (("axis", REQUIRED),)),
    "broadcast_to": Signature(1, (("shape", REQUIRED),)),
    "size": Signature(1, (("axis", None),)),
    "full_like": Signature(1, (("fill_value", REQUIRED),)),
    "take": Signature(1, (("index", REQUIRED), ("axis", None))),
    "concatenate": Signature(1, (("axis", 0),), spread=True),
    "stack": Signature(1, (("axis", 0),), spread=True),
    "unindex": Signature(3, (("key", REQUIRED),), spread=True),
    "index_set": Signature(3, (("key", REQUIRED),), spread=True),
    "written_gradient": Signature(3, (("key", REQUIRED),), spread=True),
    "unconcatenate": Signature(2, (("axis", REQUIRED), ("index", REQUIRED)), spread=True),
    "einsum_vjp": Signature(2, (("subscripts", REQUIRED), ("index", REQUIRED)), spread=True),
    "einsum": Signature(None, (("subscripts", REQUIRED),)),
    "zeros": Signature(0, (("shape", REQUIRED),)),
    "ones": Signature(0, (("shape", REQUIRED),)),
    "full": Signature(0, (("shape", REQUIRED), ("fill_value", REQUIRED))),
    "eye": Signature(0, (("n", REQUIRED), ("m", None))),
    "arange": Signature(0, (("start", REQUIRED), ("stop", None), ("step", None))),
    "transpose": Signature(1, (("axes", None),)),
    "reshape": Signature(1, (("shape", REQUIRED),)),
    "astype": Signature(1, (("dtype", REQUIRED),)),
    "astype_discrete": Signature(1, (("dtype", REQUIRED),)),
}


def bind(lowering: ExpressionLowering, op: str, lib: str | None, args: list[Any], kwargs: dict[str, Any], node: ast.AST, preset: Params = ()) -> Any:
    """The value of ``op(*args, **kwargs)``: a new equation, or what a binder lowers it to."""
    return _BINDERS.get(op, add_bound)(lowering, op, lib, args, kwargs, node, preset)


def add_bound(lowering: ExpressionLowering, op: str, lib: str | None, args: list[Any], kwargs: dict[str, Any], node: ast.AST, preset: Params = ()) -> Value:
    inputs, params = bind_arguments(lowering, op, lib, args, kwargs, node, preset)
    return lowering.builder.add(op, inputs, params, lowering.location(node))


def bind_arguments(
    lowering: ExpressionLowering, op: str, lib: str | None, args: list[Any], kwargs: dict[str, Any], node: ast.AST, preset: Params = ()
) -> tuple[tuple[Atom, ...], Params]:
    """The inputs and params of ``op(*args, **kwargs)``, checked against its signature."""
    spec = ops.OPS[op]
    signature = SIGNATURES.get(op, Signature(spec.arity))
    names = [name for name, _ in signature.params]
    given = dict(preset)
    count = len(args) if signature.inputs is None else signature.inputs
    input_args, static_args = args[:count], args[count:]
    values = dict(zip(names, static_args))
    if len(input_args) != count or len(static_args) > len(names) or any(n not in names or n in given or n in values for n in kwargs):
        _refuse_signature(lowering, op, signature, node)
    values.update(kwargs)
    spread: list[Any] = list(input_args)
    if signature.spread:
        if not isinstance(spread[-1], tuple) or not spread[-1] and op in ("concatenate", "stack"):
            lowering.fail(UnsupportedSyntaxError, node, f"{_call_text(node, op)} needs a tuple or list of arrays", "write it as np.concatenate((a, b), axis=...)")
        spread[-1:] = spread[-1]
    dynamic: list[Any] = []
    allow_dynamic = isinstance(spec.spelling, ops.Call) and spec.spelling.dynamic_from is not None
    statics: list[tuple[str, Hashable]] = []
    for name, default in signature.params:
        if name in given:
            statics.append((name, given[name]))
        elif name in values:
            statics.append((name, static(lowering, values[name], node, name, dynamic if allow_dynamic else None)))
        elif default == REQUIRED:
            _refuse_signature(lowering, op, signature, node)
        else:
            statics.append((name, default))
    inputs = tuple(lowering.atom(a, node) for a in [*spread, *dynamic])
    if op in ops.LIBRARY_OPS:
        statics.insert(0, ("lib", lib or lowering.choose_lib(op, inputs)))
    return inputs, tuple(statics)


def static(lowering: ExpressionLowering, value: Any, node: ast.AST, what: str, dynamic: list[Any] | None = None) -> Hashable:
    """A compile-time constant param; with ``dynamic``, a run-time value becomes a DYNAMIC
    marker and is appended there. Anything else is a located error."""
    if isinstance(value, Constant) and (value.value is None or isinstance(value.value, (bool, int, float, str))):
        return value.value
    if isinstance(value, Constant) and isinstance(value.value, tuple):  # a template's param
        return value.value
    if isinstance(value, tuple):
        return tuple(static(lowering, item, node, what, dynamic) for item in value)
    if isinstance(value, Value) and dynamic is not None:
        dynamic.append(value)
        return ops.DYNAMIC
    lowering.fail(
        UnsupportedSyntaxError,
        node,
        f"'{what}' must be a constant here",
        "write it as a literal (an int, a tuple of ints) or a module-level constant; the "
        "derivative depends on it, so gradgen must know it when it compiles",
    )


def _refuse_signature(lowering: ExpressionLowering, op: str, signature: Signature, node: ast.AST) -> None:
    inputs = "any number of" if signature.inputs is None else str(signature.inputs)
    params = ", ".join(name for name, _ in signature.params)
    call = _call_text(node, op)
    lowering.fail(
        UnsupportedSyntaxError,
        node,
        f"{call} is supported with {inputs} positional argument(s)" + (f" and the keywords {params}" if params else ""),
        recognized.SUPPORTED_FUNCTIONS_HINT,
    )


def _call_text(node: ast.AST, op: str) -> str:
    return ast.unparse(node.func) + "()" if isinstance(node, ast.Call) else op


# -- binders for ops whose arguments need more than a signature -------------------------------

Binder = Callable[..., Any]


def _reshape(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    if len(args) > 2 and not kwargs:
        args = [args[0], tuple(args[1:])]  # x.reshape(2, 3)
    return add_bound(lowering, op, lib, args, kwargs, node, preset)


def _transpose(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    if len(args) > 2 and not kwargs:
        args = [args[0], tuple(args[1:])]  # x.transpose(1, 0, 2)
    return add_bound(lowering, op, lib, args, kwargs, node, preset)


def _clip(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    if kwargs or len(args) != 3:
        lowering.fail(UnsupportedSyntaxError, node, "np.clip() is supported as np.clip(x, low, high)", "pass the bounds positionally; None for a missing one")
    x, low, high = args
    unbounded = [isinstance(b, Constant) and b.value is None for b in (low, high)]
    if all(unbounded):
        lowering.fail(UnsupportedSyntaxError, node, "np.clip() needs at least one bound", "pass a number or an array as low or high")
    # One-sided clips are np.maximum/np.minimum, with the same boundary convention.
    if unbounded[1]:
        return add_bound(lowering, "maximum", "numpy", [x, low], {}, node)
    if unbounded[0]:
        return add_bound(lowering, "minimum", "numpy", [x, high], {}, node)
    return add_bound(lowering, op, lib, args, {}, node)


def _norm(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    inputs, params = bind_arguments(lowering, op, lib, args, kwargs, node, preset)
    order, axis = dict(params)["ord"], dict(params)["axis"]
    vector = isinstance(axis, int)
    if not (order is None or (order == 2 and vector) or (order == "fro" and not vector)):
        lowering.fail(
            UnsupportedSyntaxError,
            node,
            f"np.linalg.norm with ord={order!r} is not supported",
            "supported: the 2-norm of vectors and the Frobenius norm (ord=None, ord=2 with an int axis, ord='fro')",
        )
    return lowering.builder.add(op, inputs, params, lowering.location(node))


def _einsum(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    if not args or not (isinstance(args[0], Constant) and isinstance(args[0].value, str)) or kwargs:
        lowering.fail(UnsupportedSyntaxError, node, "np.einsum() needs its subscripts as a string literal first", "write np.einsum('ij,jk->ik', a, b)")
    subscripts = args[0].value.replace(" ", "")
    inputs, _, output = subscripts.partition("->")
    operands = inputs.split(",")
    problem = ""
    if "->" not in subscripts:
        problem = "needs an explicit output ('ij,jk->ik')"
    elif "." in subscripts:
        problem = "with '...' is not supported"
    elif len(operands) != len(args) - 1:
        problem = f"names {len(operands)} operand(s) but is given {len(args) - 1}"
    elif any(len(set(term)) != len(term) for term in operands) or not all(term.isalpha() for term in operands + ([output] if output else [])):
        problem = "with a repeated index within one operand (a diagonal) is not supported"
    if problem:
        lowering.fail(UnsupportedSyntaxError, node, f"np.einsum('{subscripts}') {problem}", "write explicit subscripts with letters, such as 'ij,jk->ik'")
    return add_bound(lowering, op, lib, list(args[1:]), {}, node, (("subscripts", subscripts),))


def _joined(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    inputs, params = bind_arguments(lowering, op, lib, args, kwargs, node, preset)
    if dict(params)["axis"] is None:
        lowering.fail(UnsupportedSyntaxError, node, f"np.{op}() with axis=None is not supported", "pass an integer axis; flatten with np.ravel first")
    return lowering.builder.add(op, inputs, params, lowering.location(node))


def _astype(lowering: ExpressionLowering, op, lib, args, kwargs, node, preset) -> Any:
    if preset:  # np.float64(x)
        dtype = dict(preset)["dtype"]
    else:
        if len(args) != 2 or kwargs:
            lowering.fail(UnsupportedSyntaxError, node, "x.astype() is supported with one dtype argument", "write x.astype(np.float32)")
        dtype = _dtype_name(lowering, args[1], node)
        args = args[:1]
    # Casts to a float type pass the gradient through; integer and bool casts are constant.
    op = "astype" if np.dtype(dtype).kind == "f" else "astype_discrete"
    return add_bound(lowering, op, lib, args, {}, node, (("dtype", dtype),))


def _dtype_name(lowering: ExpressionLowering, value: Any, node: ast.AST) -> str:
    from gradgen.lowering import PythonObject

    candidate = value.obj if isinstance(value, PythonObject) else getattr(value, "value", None)
    try:
        dtype = np.dtype(candidate)
    except TypeError:
        dtype = None
    if candidate is None or dtype is None or dtype.kind not in "biuf":
        lowering.fail(UnsupportedSyntaxError, node, f"'{ast.unparse(node)}' is not a real numeric dtype", "use np.float32, np.float64, int or bool")
    return dtype.name


_BINDERS: dict[str, Binder] = {  # the rest: add_bound
    "reshape": _reshape,
    "transpose": _transpose,
    "clip": _clip,
    "norm": _norm,
    "einsum": _einsum,
    "astype": _astype,
    "concatenate": _joined,
    "stack": _joined,
}
