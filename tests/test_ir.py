"""The IR: frozen SSA data, printed like a jaxpr, checked by verify()."""

import dataclasses

import pytest

from gradgen.ir import Constant, Equation, Graph, GraphError, Value, is_constant_number, uses, verify

x, y, z = Value(0, "x", True), Value(1, "y", True), Value(2, "z", True)


def test_nodes_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.name = "other"  # type: ignore[misc]


def test_constants_of_different_types_differ():
    assert Constant(1) != Constant(1.0)
    assert Constant(1) != Constant(True)
    assert Constant(2.0) == Constant(2.0)
    assert len({Constant(1), Constant(1.0), Constant(True)}) == 3


def test_is_constant_number():
    assert is_constant_number(Constant(1), 1) and is_constant_number(Constant(1.0), 1)
    assert not is_constant_number(Constant(True), 1)
    assert not is_constant_number(x, 1)


def test_graph_prints_like_a_jaxpr():
    graph = Graph((x, y), (Equation("mul", (x, y), (z,)),), (z,))
    assert str(graph) == "{ lambda x#0:scalar y#1:scalar .\n    z#2:scalar = mul x#0:scalar y#1:scalar\n  in (z#2:scalar) }"


def test_verify_accepts_a_valid_graph():
    graph = Graph((x, y), (Equation("mul", (x, y), (z,)),), (z,))
    assert verify(graph) is graph


def test_verify_rejects_use_before_definition():
    w = Value(3, "w")
    graph = Graph((x,), (Equation("mul", (x, w), (z,)), Equation("neg", (x,), (w,))), (z,))
    with pytest.raises(GraphError, match="used before"):
        verify(graph)


def test_verify_rejects_redefinition():
    graph = Graph((x, y), (Equation("mul", (x, y), (x,)),), (x,))
    with pytest.raises(GraphError, match="defined twice"):
        verify(graph)


def test_verify_rejects_wrong_arity_and_unknown_ops():
    with pytest.raises(GraphError, match="takes 2"):
        verify(Graph((x,), (Equation("mul", (x,), (z,)),), (z,)))
    with pytest.raises(GraphError, match="unknown op"):
        verify(Graph((x,), (Equation("frobnicate", (x,), (z,)),), (z,)))


def test_verify_rejects_undefined_output():
    with pytest.raises(GraphError, match="never defined"):
        verify(Graph((x,), (), (z,)))


def test_uses_counts_equation_inputs_and_outputs():
    graph = Graph((x, y), (Equation("mul", (x, x), (z,)),), (z, x))
    assert uses(graph) == {0: 3, 2: 1}
