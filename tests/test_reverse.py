"""Reverse mode: rules applied in reverse order, fan-out summed, only what is needed."""

import numpy as np

from gradgen import kinds, reverse
from gradgen.ir import Constant, verify
from gradgen.parse import parse_function
from tests import seed_functions as seeds


def gradient_graph(function, wrt, output_scalar=True):
    graph = kinds.infer_scalars(parse_function(function).graph, True)
    return verify(reverse.differentiate(graph, wrt, check_output=not output_scalar))


def backward_equations(function, wrt, **kwargs):
    forward = parse_function(function).graph
    graph = gradient_graph(function, wrt, **kwargs)
    return graph.equations[len(forward.equations) :]


def test_neuron_adjoints_follow_the_seed_names_in_reverse_order():
    names = [eq.output.name for eq in backward_equations(seeds.neuron, (0, 1, 2, 3, 4)) if eq.output.name]
    assert names == ["grad_L", "grad_s3", "grad_s2", "grad_w2", "grad_s0", "grad_s1", "grad_w1", "grad_x1", "grad_w0", "grad_x0"]


def test_mul_swaps_and_add_distributes():
    equations = backward_equations(seeds.add_mul, (0, 1, 2))
    by_name = {eq.output.name: eq for eq in equations if eq.output.name}
    assert by_name["grad_q"].op == "mul" and by_name["grad_q"].inputs[1].name == "z"
    assert by_name["grad_z"].op == "mul" and by_name["grad_z"].inputs[1].name == "q"
    assert by_name["grad_x"].op == "copy" and by_name["grad_y"].op == "copy"


def test_fan_out_contributions_are_summed():
    graph = gradient_graph(seeds.fan_out, (0,))
    final = graph.outputs[-1]
    accumulations = [eq for eq in graph.equations if eq.op == "add" and eq.output.name == "grad_x"]
    assert len(accumulations) == 2  # x is read three times: x * x + x
    assert final == accumulations[-1].output


def test_only_values_on_a_path_from_wrt_get_adjoints():
    equations = backward_equations(seeds.only_x_matters, (0,))
    assert all("y" not in eq.output.name for eq in equations)
    assert not any(eq.op == "mul" and any(getattr(a, "name", "") == "y" for a in eq.inputs) for eq in equations)


def test_unused_parameter_gets_a_zero_of_its_kind():
    import gradgen

    # y's kind is unknown at compile time: the zero takes its shape at run time.
    graph = gradient_graph(seeds.unused_parameter, (1,))
    assert graph.equations[-1].op == "zeros_like" and graph.outputs[-1] == graph.equations[-1].output
    gradient = gradgen.grad(seeds.unused_parameter, wrt=1)
    assert gradient(2.0, 5) == 0.0 and type(gradient(2.0, 5)) is float
    assert gradient(2.0, np.ones((2, 3), dtype=int)).dtype == np.float64
    # A parameter proven scalar gets the constant 0.0.
    assert gradient_graph(seeds.unused_scalar, (1,)).outputs[-1] == Constant(0.0)


def test_scalar_code_needs_no_broadcasting_reductions():
    ops = {eq.op for eq in backward_equations(seeds.neuron, (0, 1, 2, 3, 4))}
    assert "unbroadcast" not in ops and "output_seed" not in ops


def test_possibly_broadcast_inputs_are_unbroadcast():
    equations = backward_equations(seeds.array_add, (0, 1))
    assert sum(eq.op == "unbroadcast" for eq in equations) == 2


def test_scalar_times_array_sums_only_the_scalar_side():
    equations = backward_equations(seeds.scalar_times_array, (0, 1))
    unbroadcast = [eq for eq in equations if eq.op == "unbroadcast"]
    assert len(unbroadcast) == 1 and unbroadcast[0].inputs[1].name == "w"


def test_output_not_proven_scalar_is_checked_at_run_time():
    equations = backward_equations(seeds.array_add, (0,), output_scalar=False)
    assert equations[0].op == "output_seed"


def test_gradients_of_the_two_layer_net_match_the_seed():
    import gradgen

    rng = np.random.default_rng(0)
    W1, W2, x, y = rng.normal(size=(8, 16)), rng.normal(size=(16, 8)), rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    dW1, dW2 = gradgen.grad(seeds.two_layer_loss, wrt=(0, 1))(W1, W2, x, y)
    s = x.dot(W1)
    a = np.maximum(s, 0)
    dy_hat = a.dot(W2) - y
    np.testing.assert_allclose(dW2, a.T.dot(dy_hat), rtol=1e-12)
    np.testing.assert_allclose(dW1, x.T.dot((s > 0) * dy_hat.dot(W2.T)), rtol=1e-12)
