"""The benchmarks' RNN workload (benchmarks/workloads.py): its hand-written BPTT backward and
gradgen's gradient both match central finite differences, and gradgen's code specialized for
its shapes has the hand-written step in its backward loop (no run-time shape helpers)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import gradgen
from tests.test_specialization import backward_loop, finite_differences

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "workloads.py"
_SPEC = importlib.util.spec_from_file_location("benchmark_workloads", _PATH)
workloads = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = workloads  # its dataclasses look their module up
_SPEC.loader.exec_module(workloads)

POINT = workloads.rnn_point(steps=5, hidden=6, inputs=4, seed=7)
ARGUMENTS = tuple(value for _, value in POINT)
RNN = workloads.make_rnn(np)


@pytest.mark.parametrize("backward", ["hand", "gradgen"])
def test_the_rnn_gradient_matches_finite_differences(backward):
    if backward == "hand":
        gradients = workloads.rnn_hand_backward(*ARGUMENTS)
    else:
        gradients = gradgen.grad(RNN, wrt=(0, 1, 2))(*ARGUMENTS)
    for position, gradient in enumerate(gradients):
        np.testing.assert_allclose(gradient, finite_differences(RNN, ARGUMENTS, position), rtol=1e-6, atol=1e-8)


def test_the_specialized_rnn_loop_body_is_the_hand_written_bptt_step():
    gradient = gradgen.grad(RNN, wrt=(0, 1, 2))
    body = backward_loop(gradient.source_for(*ARGUMENTS))
    assert "runtime." not in body and "runtime.unbroadcast" in backward_loop(gradient.source)
    assert "np.outer(" in body and "W.T.dot(" in body  # dW += outer(dpre, h); dh = W.T.dot(dpre)
    assert "tanh" not in body and "W @ " not in body  # each step's h comes from the step after
    forward = gradient.source_for(*ARGUMENTS).split("# backward")[0]
    assert "np.sum" not in forward  # the loss itself is not needed for its gradient
