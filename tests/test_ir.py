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


# -- control flow ---------------------------------------------------------------------------


def _branch(op_inputs, op="mul"):
    a, b = Value(10, "a", True), Value(11, "b", True)
    out = Value(12, "", True)
    return Graph((a, b), (Equation(op, (a, b), (out,)),), (out,))


def test_a_cond_holds_its_branches_and_stays_hashable():
    p, r = Value(3, "", False), Value(4, "r", True)
    cond = Equation("cond", (p, x, y), (r,), (("then", _branch(None)), ("else", _branch(None, "add"))))
    graph = verify(Graph((x, y), (Equation("gt", (x, y), (p,)), cond), (r,)))
    assert hash(cond) == hash(dataclasses.replace(cond))
    text = str(graph)
    assert "r#4:scalar = cond t#3 x#0:scalar y#1:scalar" in text and "then:" in text and "else:" in text


def test_verify_checks_the_branches_against_their_cond():
    p, r = Value(3, "", False), Value(4, "r", True)
    one_operand = Equation("cond", (p, x), (r,), (("then", _branch(None)), ("else", _branch(None))))
    with pytest.raises(GraphError, match="operands"):
        verify(Graph((x, y), (Equation("gt", (x, y), (p,)), one_operand), (r,)))
    a = Value(10, "a", True)
    broken = Graph((a, Value(11, "b", True)), (), (Value(99, "", True),))  # returns an undefined value
    bad = Equation("cond", (p, x, y), (r,), (("then", broken), ("else", _branch(None))))
    with pytest.raises(GraphError, match="never defined"):
        verify(Graph((x, y), (Equation("gt", (x, y), (p,)), bad), (r,)))


def test_verify_checks_a_loop_against_its_body():
    i, s_in, s_out, t = Value(10, "i", True), Value(11, "s", True), Value(12, "s", True), Value(13, "", True)
    body = Graph((i, s_in, y), (Equation("mul", (s_in, y), (s_out,)),), (s_out,))
    loop = Equation("loop", (Constant(0), Constant(3), Constant(1), x, y), (t,), (("body", body),))
    verify(Graph((x, y), (loop,), (t,)))
    too_many = dataclasses.replace(loop, inputs=loop.inputs + (x,))
    with pytest.raises(GraphError, match="inputs"):
        verify(Graph((x, y), (too_many,), (t,)))


def test_with_atoms_keeps_every_other_field():
    # with_atoms spells out Equation's fields (for speed): a field added to Equation must be
    # added there too, or it would be dropped silently.
    from gradgen.errors import SourceLocation
    from gradgen.ir import with_atoms

    assert [f.name for f in dataclasses.fields(Equation)] == ["op", "inputs", "outputs", "params", "location", "forward"]
    equation = Equation("mul", (x, y), (z,), (("lib", "math"),), SourceLocation("f.py", 3, 4), True)
    new = with_atoms(equation, (y, x), (x,))
    assert new == dataclasses.replace(equation, inputs=(y, x), outputs=(x,))
    assert (new.location, new.forward) == (equation.location, True)
