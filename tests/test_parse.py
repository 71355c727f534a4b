"""Parse: Python source -> SSA graph; names resolve like Python, helpers are inlined."""

from pathlib import Path

import numpy as np

from gradgen.ir import Constant, verify
from gradgen.parse import parse_function
from tests import seed_functions as seeds


def ops_of(function):
    return [eq.op for eq in parse_function(function).graph.equations]


def test_neuron_is_one_op_per_node_with_the_users_names():
    parsed = parse_function(seeds.neuron)
    graph = verify(parsed.graph)
    assert parsed.parameters == ("w0", "x0", "w1", "x1", "w2")
    # sigmoid is inlined: 1.0 / (1.0 + exp(-s3))
    assert [eq.op for eq in graph.equations] == ["mul", "mul", "add", "add", "neg", "exp", "add", "div"]
    names = [eq.output.name for eq in graph.equations]
    assert names == ["s0", "s1", "s2", "s3", "", "", "", "L"]
    assert graph.outputs[0].name == "L"


def test_locations_are_lines_of_the_file():
    parsed = parse_function(seeds.neuron)
    source_lines = Path(seeds.__file__).read_text().splitlines()
    first = parsed.graph.equations[0]
    assert source_lines[first.location.line - 1].strip() == "s0 = w0 * x0"
    assert first.location.column == source_lines[first.location.line - 1].index("w0 * x0")
    inlined = parsed.graph.equations[-1]
    assert "return 1.0 / (1.0 + math.exp(-x))" in inlined.location.source_line
    assert inlined.location.call_site.source_line.strip() == "L = sigmoid(s3)"


def test_reassignment_creates_new_ssa_versions():
    graph = verify(parse_function(seeds.reassigned).graph)
    outputs = [eq.output for eq in graph.equations]
    assert [v.name for v in outputs] == ["a", "a", "s", "s"]
    assert len({v.id for v in outputs}) == 4
    assert [eq.op for eq in graph.equations] == ["mul", "mul", "copy", "add"]


def test_math_and_numpy_functions_are_found_by_identity_under_any_alias():
    graph = parse_function(seeds.aliased_exp).graph
    exps = [eq for eq in graph.equations if eq.op == "exp"]
    assert [eq.param("lib") for eq in exps] == ["math", "numpy"]


def test_tuple_assignment():
    assert ops_of(seeds.tuple_assign) == ["mul", "add", "mul"]


def test_print_assert_and_docstring_are_left_out():
    assert ops_of(seeds.nested) == ["mul", "cos", "sin"]


def test_module_numbers_become_constants():
    graph = parse_function(seeds.uses_global).graph
    assert graph.equations[0].inputs[0] == Constant(0.1)


def test_keyword_only_parameters_are_inputs():
    assert parse_function(seeds.with_defaults).parameters == ("x", "scale", "shift")


def test_annotations_mark_scalars():
    graph = parse_function(seeds.annotated).graph
    x, W = graph.inputs
    assert x.scalar and not W.scalar


def test_methods_and_reductions():
    graph = parse_function(seeds.two_layer_loss).graph
    assert [eq.op for eq in graph.equations] == ["dot", "maximum", "dot", "sub", "pow", "sum", "mul"]
    maximum = graph.equations[1]
    assert maximum.param("lib") == "numpy" and maximum.inputs[1] == Constant(0)


def test_reduction_params_are_static():
    import tests.parse_samples as samples

    equation = parse_function(samples.mean_axis).graph.equations[0]
    assert equation.op == "mean" and equation.param("axis") == 0 and equation.param("keepdims") is True


def test_numpy_scalar_globals_are_constants():
    import tests.parse_samples as samples

    graph = parse_function(samples.numpy_scalar_global).graph
    assert graph.equations[0].inputs[1] == Constant(float(np.float64(3.0)))


def test_every_op_the_parser_recognizes_is_in_the_op_table():
    from gradgen import recognized
    from gradgen.ops import OPS

    tables = (
        recognized.BINARY_OPERATORS, recognized.COMPARISONS, recognized.MATH_FUNCTIONS,
        recognized.NUMPY_FUNCTIONS, recognized.BUILTIN_FUNCTIONS, recognized.METHODS, recognized.ATTRIBUTES,
    )
    named = {op for table in tables for op in table.values()}
    named |= {op for op, _ in recognized.NUMPY_PRESETS.values()}
    assert named - set(OPS) == set()
