"""Specialization: run-time shape helpers -> the plain numpy a person would write.

Runs on a graph whose values carry shapes (``stamping.stamp_shapes``). Each rewrite is exact
for those shapes: a broadcasting reduction disappears where nothing was broadcast, and becomes
an ``np.sum`` over exactly the broadcast axes where something was; the gradient of a full sum
is left unexpanded where every reader broadcasts it anyway; matrix-product gradients become
``g @ W.T`` and ``x.T @ g``, and those of ``np.dot`` of N-D arrays ``np.tensordot`` with the
axes written out; the adjoint of ``x[key]`` becomes ``np.zeros(x.shape)`` with the gradient
assigned at ``key`` (``passes/scatters.py`` then adds it into the slot of an array it is summed
with), and that of a value written by ``H[key] = v`` ``grad_H[key].copy()``, summed where ``v``
was broadcast; the output check becomes the constant 1.0. Where a list of indices repeats a
position the run-time helpers stay: their gradients add up (``np.add.at``), and a repeated
write keeps the last value. Branches and loop bodies are specialized as graphs of their own,
wherever their values carry shapes.
"""

from __future__ import annotations

import dataclasses
from typing import Hashable

import numpy as np

from gradgen import runtime
from gradgen.ir import Atom, Constant, Equation, Graph, Value
from gradgen.ops import OPS
from gradgen.passes.substitution import map_branches, rebuild, substitute_inputs
from gradgen.passes.scatters import fold_scatters, selected_shape


_T = (("lib", "attribute"),)  # x.T: the operand is known to be an array here
_DOT = (("lib", "method"),)  # a.dot(b)
_EXPAND_LAST = (("key", (("ellipsis",), ("newaxis",))),)  # x[..., None]
_EXPAND_SECOND_TO_LAST = (("key", (("ellipsis",), ("newaxis",), ("slice", None, None, None))),)  # x[..., None, :]
_SUM_ALL = (("lib", "numpy"), ("axis", None), ("keepdims", False))


def _sum_params(axis: tuple[int, ...], keepdims: bool) -> tuple[tuple[str, Hashable], ...]:
    return (("lib", "numpy"), ("axis", axis), ("keepdims", keepdims))


class _Specializer:
    def __init__(self, graph: Graph):
        ids = [v.id for v in graph.inputs] + [v.id for eq in graph.equations for v in eq.outputs]
        self.next_id = max(ids, default=-1) + 1
        self.readers: dict[int, list[Equation]] = {}
        for equation in graph.equations:
            for atom in equation.inputs:
                if isinstance(atom, Value):
                    self.readers.setdefault(atom.id, []).append(equation)
        self.new: list[Equation] = []
        self.inputs = {value.id for value in graph.inputs}

    def emit(self, like: Equation, op: str, inputs: tuple[Atom, ...], shape: tuple[int, ...], dtype: str | None, params: tuple[tuple[str, Hashable], ...] = ()) -> Value:
        value = Value(self.next_id, "", shape == (), shape=shape, dtype=dtype)
        self.next_id += 1
        self.new.append(Equation(op, inputs, (value,), params, like.location))
        return value

    def finish(self, like: Equation, op: str, inputs: tuple[Atom, ...], params: tuple[tuple[str, Hashable], ...] = ()) -> Equation:
        """The rewritten equation, keeping ``like``'s output (its id, name and shape)."""
        return dataclasses.replace(like, op=op, inputs=inputs, params=params)

    def rewrite(self, eq: Equation) -> Atom | Equation | None:
        handler = getattr(self, eq.op, None)
        if handler is None or not all(_shape(a) is not None for a in eq.inputs):
            return None
        return handler(eq)

    def output_seed(self, eq: Equation) -> Atom | None:
        return Constant(1.0) if _shape(eq.inputs[0]) == () else None  # the output is a scalar

    def count_reduced(self, eq: Equation) -> Atom:
        shape = _shape(eq.inputs[0])
        axis = eq.param("axis")
        axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        return Constant(int(np.prod([shape[a] for a in axes], dtype=np.int64)))

    def unbroadcast(self, eq: Equation) -> Atom | Equation:
        return self.summed_to(eq, eq.inputs[0], _shape(eq.inputs[1]))  # type: ignore[arg-type]

    def summed_to(self, eq: Equation, gradient: Atom, like_shape: tuple[int, ...]) -> Atom | Equation:
        """``gradient`` summed over the axes broadcasting stretched ``like_shape`` along."""
        gradient_shape = _shape(gradient)
        if gradient_shape == like_shape:
            return gradient  # nothing was broadcast
        if like_shape == ():
            return self.finish(eq, "sum", (gradient,), _SUM_ALL)
        leading = len(gradient_shape) - len(like_shape)
        stretched = tuple(i for i, n in enumerate(like_shape) if n == 1 and gradient_shape[leading + i] != 1)
        if leading:
            axis = tuple(range(leading))
            if not stretched:
                return self.finish(eq, "sum", (gradient,), _sum_params(axis, False))
            gradient = self.emit(eq, "sum", (gradient,), gradient_shape[leading:], _dtype(gradient), _sum_params(axis, False))
        return self.finish(eq, "sum", (gradient,), _sum_params(stretched, True))

    def ieee_div(self, eq: Equation) -> Equation | None:
        # Python numbers: runtime.scalar_divide keeps them floats (np.divide makes numpy scalars
        # and warns at 0).
        if eq.param("lib") == "numpy" and all(_is_python_number(a) for a in eq.inputs):
            return dataclasses.replace(eq, params=(("lib", "math"),))
        return None

    ieee_pow = ieee_div

    def no_in_place_update(self, eq: Equation) -> Atom | None:
        return eq.inputs[0] if _is_python_number(eq.inputs[0]) else None  # a number is rebound

    def mask(self, eq: Equation) -> Atom | Equation:
        condition, gradient = eq.inputs
        shape = _shape(gradient)
        if np.broadcast_shapes(_shape(condition), shape) != shape:
            return gradient  # the condition was broadcast: it does not mark this gradient's elements
        branches = (gradient, Constant(0.0)) if eq.param("taken", True) else (Constant(0.0), gradient)
        return self.finish(eq, "where", (condition, *branches))

    def matmul(self, eq: Equation) -> Equation | None:
        # For matrices and vectors, a.dot(b) is the same product as a @ b, with less call
        # overhead (about 0.5 us, which is most of the cost on small matrices); the seed's own
        # code uses .dot.
        if len(_shape(eq.inputs[0])) in (1, 2) and len(_shape(eq.inputs[1])) in (1, 2):
            return self.finish(eq, "dot", eq.inputs, _DOT)
        return None

    def matmul_vjp_left(self, eq: Equation) -> Equation | None:
        gradient, left, right = eq.inputs
        ndims = (len(_shape(left)), len(_shape(right)))
        if ndims == (2, 2):
            transposed = self.emit(eq, "transpose", (right,), _shape(right)[::-1], _dtype(right), _T)
            return self.finish(eq, "dot", (gradient, transposed), _DOT)  # grad_x = grad_z.dot(y.T)
        if ndims == (1, 2):
            return self.finish(eq, "dot", (right, gradient), _DOT)  # grad_x = y.dot(grad_z)
        if ndims == (2, 1):
            return self.finish(eq, "outer", (gradient, right))  # W @ h: grad_W = np.outer(grad_z, h)
        if ndims == (1, 1):
            return self.finish(eq, "mul", (gradient, right))
        return None

    def matmul_vjp_right(self, eq: Equation) -> Equation | None:
        gradient, left, right = eq.inputs
        ndims = (len(_shape(left)), len(_shape(right)))
        if ndims in ((2, 2), (2, 1)):
            transposed = self.emit(eq, "transpose", (left,), _shape(left)[::-1], _dtype(left), _T)
            return self.finish(eq, "dot", (transposed, gradient), _DOT)  # grad_y = x.T.dot(grad_z)
        if ndims == (1, 1):
            return self.finish(eq, "mul", (gradient, left))
        return None

    # np.dot of N-D arrays contracts x's last axis with y's second to last (its only one for a
    # vector): z[I, J, m] = sum_k x[I, k] y[J, k, m]. For vectors and matrices it is matmul.

    def scaled_vjp(self, eq: Equation, gradient: Atom, other: Atom, like: Atom) -> Atom | Equation:
        # np.dot with a scalar is a product: grad_x = grad_z * y, summed where x was broadcast
        shape = tuple(np.broadcast_shapes(_shape(gradient), _shape(other)))  # type: ignore[arg-type]
        product = self.emit(eq, "mul", (gradient, other), shape, eq.output.dtype)
        return self.summed_to(eq, product, _shape(like))  # type: ignore[arg-type]

    def dot_vjp_left(self, eq: Equation) -> Atom | Equation | None:
        return self.dot_vjp(eq, 0)

    def dot_vjp_right(self, eq: Equation) -> Atom | Equation | None:
        return self.dot_vjp(eq, 1)

    def dot_vjp(self, eq: Equation, side: int) -> Atom | Equation | None:
        gradient, left, right = eq.inputs
        p, q = len(_shape(left)), len(_shape(right))
        if min(p, q) == 0:
            return self.scaled_vjp(eq, gradient, eq.inputs[2 - side], eq.inputs[1 + side])
        if max(p, q) <= 2:
            return (self.matmul_vjp_left, self.matmul_vjp_right)[side](eq)
        return (self.tensordot_vjp_left, self.tensordot_vjp_right)[side](eq, gradient, left, right, p, q)

    def tensordot_vjp_left(self, eq: Equation, gradient: Atom, left: Atom, right: Atom, p: int, q: int) -> Equation:
        if q == 1:  # grad_x[I, k] = grad_z[I] y[k]
            column = self.emit(eq, "index", (gradient,), _shape(gradient) + (1,), _dtype(gradient), _EXPAND_LAST)
            return self.finish(eq, "mul", (column, right))
        # grad_x[I, k] = sum_{J, m} grad_z[I, J, m] y[J, k, m]
        axes = (tuple(range(p - 1, p + q - 2)), (*range(q - 2), q - 1))
        return self.finish(eq, "tensordot", (gradient, right), (("axes", axes),))

    def tensordot_vjp_right(self, eq: Equation, gradient: Atom, left: Atom, right: Atom, p: int, q: int) -> Equation:
        if p == 1:  # grad_y[J, k, m] = x[k] grad_z[J, m]: x[:, None] * grad_z[..., None, :]
            column = self.emit(eq, "index", (left,), _shape(left) + (1,), _dtype(left), _EXPAND_LAST)
            rows = self.emit(eq, "index", (gradient,), _shape(gradient)[:-1] + (1,) + _shape(gradient)[-1:], _dtype(gradient), _EXPAND_SECOND_TO_LAST)
            return self.finish(eq, "mul", (column, rows))
        # grad_y[J, k, m] = sum_I x[I, k] grad_z[I, J, m]: tensordot gives the axes (k, J, m)
        batch = tuple(range(p - 1))
        params = (("axes", (batch, batch)),)
        if q <= 2:
            return self.finish(eq, "tensordot", (left, gradient), params)
        contracted_shape = _shape(right)[-2:-1] + _shape(right)[:-2] + _shape(right)[-1:]
        contracted = self.emit(eq, "tensordot", (left, gradient), contracted_shape, eq.output.dtype, params)
        return self.finish(eq, "transpose", (contracted,), (("lib", "numpy"), ("axes", (*range(1, q - 1), 0, q - 1))))

    def unindex(self, eq: Equation) -> Equation | None:
        # grad_x = np.zeros(x.shape); grad_x[key] = grad_z: the write is done in place (the
        # zeros are owned, passes/in_place.py). Where a list of indices repeats a position the
        # contributions must add up (np.add.at): the run-time helper stays.
        like, gradient, *positions = eq.inputs
        if _shape(like) == () or selected_shape(eq.param("key"), _shape(like)) is None:  # type: ignore[arg-type]
            return None
        dtype = eq.output.dtype
        params = (("shape", _shape(like)),) + ((("dtype", dtype),) if dtype != "float64" else ())
        zeros = self.emit(eq, "zeros", (), _shape(like), dtype, params)  # type: ignore[arg-type]
        return self.finish(eq, "index_set", (zeros, gradient, *positions), (("key", eq.param("key")),))

    def written_gradient(self, eq: Equation) -> Atom | Equation | None:
        # grad_v = grad_H[key], summed where v was broadcast; a new array, since the backward
        # zeroes grad_H[key] next, possibly in place.
        like, gradient, *positions = eq.inputs
        slot_shape = selected_shape(eq.param("key"), _shape(gradient))  # type: ignore[arg-type]
        if slot_shape is None:
            return None
        key = (("key", eq.param("key")),)
        if _shape(like) != ():
            if slot_shape == _shape(like):
                return self.finish(eq, "index", (gradient, *positions), key + (("copy", True),))
            selected = self.emit(eq, "index", (gradient, *positions), slot_shape, _dtype(gradient), key)
            return self.summed_to(eq, selected, _shape(like))  # type: ignore[arg-type]
        if isinstance(like, Value) and like.id in self.inputs and not _is_python_number(like):
            return None  # a numpy scalar or a 0-d array: the helper tells them apart at run time
        selected = self.emit(eq, "index", (gradient, *positions), slot_shape, _dtype(gradient), key)
        if slot_shape != ():  # a number written into a slice: the slice's sum
            selected = self.emit(eq, "sum", (selected,), (), _dtype(gradient), _SUM_ALL)
        if _is_python_number(like) or _dtype(like) == "float64":  # H[0] = x[1] writes a float
            return self.finish(eq, "cast", (selected,), (("lib", "builtins"),))  # float(grad_H[0])
        return selected  # a numpy scalar of another dtype (np.float32 is no float)

    def zeros_like(self, eq: Equation) -> Atom | Equation | None:
        shape = _shape(eq.inputs[0])
        if shape == ():
            return Constant(0.0)  # the zero gradient of a number is the float 0.0
        if _dtype(eq.inputs[0]) == "float64":
            # np.zeros_like(W), not np.zeros((64, 64)): zeros of one shape for two gradients stay
            # two arrays (CSE would share one), so a returned gradient never aliases another
            return self.finish(eq, "full_like", eq.inputs, (("fill_value", 0),))
        return None

    def reshape_like(self, eq: Equation) -> Atom | Equation:
        gradient, like = eq.inputs
        if _shape(gradient) == _shape(like):
            return gradient  # nothing to reshape
        return self.finish(eq, "reshape", (gradient,), (("lib", "numpy"), ("shape", _shape(like))))

    def unconcatenate(self, eq: Equation) -> Equation:
        gradient, *parts = eq.inputs
        axis, index = eq.param("axis"), eq.param("index")
        axis = axis % len(_shape(gradient))  # type: ignore[operator]
        start = sum(_shape(part)[axis] for part in parts[:index])  # type: ignore[index]
        stop = start + _shape(parts[index])[axis]  # type: ignore[index]
        key = (("slice", None, None, None),) * axis + (("slice", start or None, stop, None),)
        return self.finish(eq, "index", (gradient,), (("key", key),))  # grad_a = grad_z[:, 3:5]

    def einsum_vjp(self, eq: Equation) -> Equation | None:
        gradient, *operands = eq.inputs
        index = eq.param("index")
        backward, target = runtime.einsum_vjp_subscripts(str(eq.param("subscripts")), index)  # type: ignore[arg-type]
        if backward.split("->")[1] != target:
            return None  # broadcast back along summed-away letters: left to the run-time helper
        others = tuple(operand for position, operand in enumerate(operands) if position != index)
        return self.finish(eq, "einsum", (gradient, *others), (("subscripts", backward),))


def _shape(atom: Atom) -> tuple[int, ...] | None:
    if isinstance(atom, Constant):
        return ()
    return atom.shape


def _is_python_number(atom: Atom) -> bool:
    if isinstance(atom, Constant):
        return True
    return atom.dtype is not None and atom.dtype.startswith("py:")


def _dtype(atom: Atom) -> str | None:
    return atom.dtype if isinstance(atom, Value) else None


def specialize(graph: Graph, carried: dict[int, int] | None = None) -> Graph:
    """Rewrite shape helpers for the shapes stamped on ``graph`` (unknown shapes are kept).
    ``carried``: for a loop's body, its inputs that are carried values, to their outputs' positions."""
    specializer = _Specializer(graph)
    spreads = _DeferredSpreads(specializer)
    replacements: dict[int, Atom] = {}
    equations: list[Equation] = []
    for equation in graph.equations:
        equation = substitute_inputs(equation, replacements)
        if spreads.defer(equation, equations):
            continue
        equation = spreads.absorb(equation, equations)
        if equation is None:
            continue
        equation = _specialize_subgraphs(equation)  # a branch or a loop body: its own scope
        result = specializer.rewrite(equation)
        equations.extend(specializer.new)
        specializer.new.clear()
        if result is None:
            equations.append(equation)
        elif isinstance(result, Equation):
            equations.append(result)
        else:
            replacements[equation.output.id] = result
    spreads.materialize_outputs(graph, equations)
    return fold_scatters(rebuild(graph, equations, replacements), carried or {})


def _specialize_subgraphs(equation: Equation) -> Equation:
    if equation.op not in ("loop", "while"):
        return map_branches(equation, specialize)
    body: Graph = equation.param("body")  # type: ignore[assignment]
    carried = {value.id: position for position, value in enumerate(body.inputs[1 : 1 + len(body.outputs)])}
    return map_branches(equation, lambda graph: specialize(graph, carried if graph is body else None))


class _DeferredSpreads:
    """The adjoint of a sum, spread over the summed array (``expand_reduced(g, x)``), is not
    built where elementwise readers would broadcast ``g`` to that shape anyway: the spread is
    carried through elementwise ops (``spread(g) * 2.0`` is ``spread(g * 2.0)``) until an
    operand of the full shape absorbs it, as in ``spread(g) * t == g * t``, or until the adjoint
    of an index assigns it into its slot, ``grad_x[1] = g``, where numpy broadcasts it. A spread
    that reaches any other reader is built there."""

    def __init__(self, specializer: _Specializer):
        self.specializer = specializer
        self.deferred: dict[int, tuple[Atom, Atom, Equation]] = {}  # id -> (g, like, origin)

    def defer(self, eq: Equation, equations: list[Equation]) -> bool:
        if eq.op != "expand_reduced" or any(_shape(a) is None for a in eq.inputs):
            return False
        gradient, like = eq.inputs
        origin = eq
        if isinstance(gradient, Value) and gradient.id in self.deferred:
            source = self.deferred[gradient.id][0]
            if _shape(source) == () or len(_shape(source)) == len(_shape(like)):
                # spreading a spread (the mean of a sum over an axis): one spread of its source
                gradient = source
                origin = dataclasses.replace(eq, inputs=(gradient, like), params=(("axis", None), ("keepdims", True)))
            else:
                self.materialize(gradient.id, equations)
        shape, like_shape = _shape(gradient), _shape(like)
        if shape != () and not (eq.param("keepdims") and len(shape) == len(like_shape)):
            axis = eq.param("axis")
            if eq.param("keepdims") or axis is None:
                return False
            # g lost the summed axes: put them back (size 1) so that g broadcasts against x
            axes = tuple(sorted(a % len(like_shape) for a in (axis if isinstance(axis, tuple) else (axis,))))
            kept = tuple(1 if i in axes else n for i, n in enumerate(like_shape))
            gradient = self.specializer.emit(eq, "expand_dims", (gradient,), kept, _dtype(gradient), (("axis", axes),))
            equations.extend(self.specializer.new)
            self.specializer.new.clear()
        self.deferred[eq.output.id] = (gradient, like, origin)
        return True

    def absorb(self, eq: Equation, equations: list[Equation]) -> Equation | None:
        """``eq`` with spread inputs absorbed, or None when its own output is now deferred."""
        spread = [isinstance(a, Value) and a.id in self.deferred for a in eq.inputs]
        if not any(spread):
            return eq
        if eq.op == "unindex" and spread == [False, True] + [False] * (len(spread) - 2):
            # the scatter assigns (or adds) the gradient at its key: numpy broadcasts it there
            return dataclasses.replace(eq, inputs=(eq.inputs[0], self.deferred[eq.inputs[1].id][0], *eq.inputs[2:]))  # type: ignore[union-attr]
        if OPS[eq.op].family != "elementwise" or eq.output.shape is None:
            for atom, is_spread in zip(eq.inputs, spread):
                if is_spread:
                    self.materialize(atom.id, equations)  # type: ignore[union-attr]
            return eq
        inputs = tuple(self.deferred[a.id][0] if s else a for a, s in zip(eq.inputs, spread))  # type: ignore[union-attr]
        shapes = [_shape(a) for a in inputs]
        if None not in shapes and np.broadcast_shapes(*shapes) == eq.output.shape:
            return Equation(eq.op, inputs, eq.outputs, eq.params, eq.location)  # absorbed
        like = next(self.deferred[a.id][1] for a, s in zip(eq.inputs, spread) if s)  # type: ignore[union-attr]
        narrow = np.broadcast_shapes(*shapes) if None not in shapes else None
        if narrow is None:
            for atom, is_spread in zip(eq.inputs, spread):
                if is_spread:
                    self.materialize(atom.id, equations)  # type: ignore[union-attr]
            return eq
        inner = self.specializer.emit(eq, eq.op, inputs, narrow, eq.output.dtype, eq.params)
        equations.extend(self.specializer.new)
        self.specializer.new.clear()
        origin = Equation("expand_reduced", (inner, like), eq.outputs, (("axis", None), ("keepdims", True)), eq.location)
        self.deferred[eq.output.id] = (inner, like, origin)
        return None

    def materialize(self, value_id: int, equations: list[Equation]) -> None:
        if value_id in self.deferred:
            equations.append(self.deferred.pop(value_id)[2])

    def materialize_outputs(self, graph: Graph, equations: list[Equation]) -> None:
        for atom in graph.outputs:
            if isinstance(atom, Value):
                self.materialize(atom.id, equations)
