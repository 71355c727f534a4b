"""Shape and dtype rules (shapes.py): each agrees with what numpy computes, and what the rules
cannot decide raises ShapeError (the caller then keeps the generic backward)."""

from __future__ import annotations

import numpy as np
import pytest

import gradgen

from gradgen.ir import Constant, Equation, Graph, Value
from gradgen.ops import DYNAMIC
from gradgen.shapes import ShapeError, infer
from gradgen.stamping import stamp_shapes


def _infer(op: str, shapes: list[tuple[int, ...]], params: dict | None = None, dtypes: list[str] | None = None):
    inputs = tuple(Value(i) for i in range(len(shapes)))
    equation = Equation(op, inputs, (Value(len(shapes)),), tuple((params or {}).items()))
    return infer(equation, list(zip(shapes, dtypes or ["float64"] * len(shapes))))


A = np.zeros((2, 3, 4))


@pytest.mark.parametrize(
    "op, params, expected",
    [
        ("index", {"key": (0,)}, A[0].shape),
        ("index", {"key": (("slice", 1, None, None), ("newaxis",), ("ellipsis",), -1)}, A[1:, None, ..., -1].shape),
        ("index", {"key": (("slice", None, None, -2), 1, ("slice", 1, 3, None))}, A[::-2, 1, 1:3].shape),
        ("reshape", {"shape": (4, -1)}, A.reshape(4, -1).shape),
        ("reshape", {"shape": -1}, A.reshape(-1).shape),
        ("ravel", {}, A.ravel().shape),
        ("flatten", {}, A.flatten().shape),
        ("expand_dims", {"axis": (0, 2)}, np.expand_dims(A, (0, 2)).shape),
        ("broadcast_to", {"shape": (5, 2, 3, 4)}, (5, 2, 3, 4)),
        ("transpose", {"axes": (2, 0, 1)}, np.transpose(A, (2, 0, 1)).shape),
        ("transpose", {"axes": None}, A.T.shape),
        ("max", {"axis": 1, "keepdims": True}, A.max(axis=1, keepdims=True).shape),
        ("prod", {"axis": (0, -1), "keepdims": False}, A.prod(axis=(0, -1)).shape),
        ("norm", {"ord": None, "axis": -1, "keepdims": False}, np.linalg.norm(A, axis=-1).shape),
        ("trace", {}, np.trace(A).shape),
        ("size", {"axis": 1}, ()),
    ],
)
def test_one_operand_shape_rules_agree_with_numpy(op, params, expected) -> None:
    assert _infer(op, [A.shape], params)[0] == expected


def test_squeeze_drops_ones() -> None:
    assert _infer("squeeze", [(1, 3, 1)], {"axis": None})[0] == (3,)
    assert _infer("squeeze", [(1, 3, 1)], {"axis": 0})[0] == (3, 1)
    with pytest.raises(ValueError):
        _infer("squeeze", [(2, 3)], {"axis": 0})


def test_variadic_and_two_operand_rules() -> None:
    assert _infer("concatenate", [(2, 3), (2, 5)], {"axis": 1})[0] == (2, 8)
    assert _infer("stack", [(2, 3), (2, 3)], {"axis": -1})[0] == (2, 3, 2)
    assert _infer("outer", [(2, 3), (4,)])[0] == (6, 4)
    assert _infer("inner", [(2, 3), (5, 3)])[0] == (2, 5)
    assert _infer("einsum", [(2, 3), (3, 4), (4,)], {"subscripts": "ij,jk,k->i"})[0] == (2,)
    with pytest.raises(ShapeError):
        _infer("einsum", [(2, 3), (4, 4)], {"subscripts": "ij,jk->ik"})


@pytest.mark.parametrize("left, right", [((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 5, 4, 3))])
def test_the_dot_of_n_dimensional_arrays_has_numpys_shape(left, right) -> None:
    assert _infer("dot", [left, right])[0] == np.dot(np.zeros(left), np.zeros(right)).shape
    with pytest.raises(ShapeError):
        _infer("dot", [left, right[:-2] + (right[-2] + 1,) + right[-1:] if len(right) > 1 else (right[0] + 1,)])


def test_dtypes() -> None:
    assert _infer("max", [(3,)], {"axis": None, "keepdims": False}, ["int32"]) == ((), "int32")
    assert _infer("prod", [(3,)], {"axis": None, "keepdims": False}, ["bool"]) == ((), "int64")
    assert _infer("norm", [(3,)], {"ord": None, "axis": None, "keepdims": False}, ["int64"]) == ((), "float64")
    assert _infer("where", [(3,), (), (3,)], {}, ["bool", "py:float", "float32"]) == ((3,), "float32")
    assert _infer("astype_discrete", [(3,)], {"dtype": "int64"}) == ((3,), "int64")
    assert _infer("zeros", [], {"shape": (2, 3)}) == ((2, 3), "float64")
    assert _infer("arange", [], {"start": 1, "stop": 7, "step": 2}) == ((3,), "int64")
    assert _infer("full", [], {"shape": 4, "fill_value": 2}) == ((4,), "int64")


def test_undecidable_shapes_raise_shape_error() -> None:
    with pytest.raises(ShapeError):
        _infer("reshape", [(2, 3)], {"shape": (4, -1)})
    with pytest.raises(ShapeError):
        _infer("index", [()], {"key": (0,)}, ["py:float"])  # indexing a Python number


def test_sizes_known_from_shapes_resolve_run_time_dimensions() -> None:
    x = Value(0, "x")
    n, flat, index = Value(1), Value(2), Value(3)
    graph = Graph(
        (x,),
        (
            Equation("size", (x,), (n,), (("axis", 0),)),
            Equation("reshape", (x, n), (flat,), (("lib", "method"), ("shape", (DYNAMIC, -1)))),
            Equation("index", (flat, n, Constant(1)), (index,), (("key", (("slice", None, DYNAMIC, None), DYNAMIC)),)),
        ),
        (index,),
    )
    stamped = stamp_shapes(graph, [np.zeros((3, 2, 2))])
    assert [eq.output.shape for eq in stamped.equations] == [(), (3, 4), (3,)]


def test_a_run_time_index_array_is_left_to_the_generic_code() -> None:
    x, i, out = Value(0, "x"), Value(1, "i"), Value(2)
    graph = Graph((x, i), (Equation("index", (x, i), (out,), (("key", (DYNAMIC,)),)),), (out,))
    assert stamp_shapes(graph, [np.zeros(3), np.array([0, 2])]).outputs[0].shape is None  # not stamped


def test_a_run_time_integer_index_has_the_same_shape_for_every_position() -> None:
    x, i, out = Value(0, "x"), Value(1, "i"), Value(2)
    graph = Graph((x, i), (Equation("index", (x, i), (out,), (("key", (DYNAMIC, ("slice", None, 2, None))),)),), (out,))
    assert stamp_shapes(graph, [np.zeros((5, 3)), 4]).outputs[0].shape == (2,)


def _loop_body(graph, position):
    return [eq for eq in graph.equations if eq.op == "loop"][position].param("body")


def test_a_loop_body_is_stamped_and_the_stack_carries_the_facts_of_what_it_holds() -> None:
    from tests import control_flow_functions as cf

    graph = stamp_shapes(gradgen.grad(cf.vector_accumulation).graph, [np.ones((3, 3)), np.ones(3)])
    forward, backward = _loop_body(graph, 0), _loop_body(graph, 1)
    assert all(eq.output.shape == (3,) for eq in forward.equations)
    assert backward.inputs[-1].shape == (3,)  # popped from the stack: the facts of h as recorded
    assert [v.shape for v in backward.outputs] == [(3,), (3, 3), (3,)]  # grad_h, grad_W, h for the next step


def test_a_carried_value_is_stamped_only_at_a_fixed_point_of_its_facts() -> None:
    from tests import control_flow_functions as cf

    graph = stamp_shapes(gradgen.grad(cf.growing_state).graph, [np.ones(3), np.ones((2, 1))])
    forward = _loop_body(graph, 0)
    assert forward.inputs[1].shape is None and forward.outputs[0].shape is None  # (2, 1), then (2, 3)
    assert [eq.output.shape for eq in forward.equations] == [None, (), None, None]  # only 0.1 * i is known
