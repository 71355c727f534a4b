"""Scalar inference: what is proven scalar flows forward and backward."""

from gradgen import kinds
from gradgen.parse import parse_function
from tests import seed_functions as seeds


def scalar_names(function, output_is_scalar):
    graph = kinds.infer_scalars(parse_function(function).graph, output_is_scalar)
    values = list(graph.inputs) + [eq.output for eq in graph.equations]
    return {v.name for v in values if v.scalar and v.name}


def test_math_calls_make_the_whole_neuron_scalar_without_assumptions():
    assert scalar_names(seeds.neuron, False) == {"w0", "x0", "w1", "x1", "w2", "s0", "s1", "s2", "s3", "L"}


def test_a_scalar_output_makes_elementwise_operands_scalar():
    assert scalar_names(seeds.unknown_output, False) == set()
    assert scalar_names(seeds.unknown_output, True) == {"x", "y"}


def test_reductions_stop_backward_inference():
    names = scalar_names(seeds.array_add, True)
    assert "a" not in names and "b" not in names


def test_annotations_are_facts():
    assert scalar_names(seeds.annotated, False) == {"x"}
