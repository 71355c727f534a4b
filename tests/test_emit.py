"""Emit: golden text for the seed's neuron, names, imports and spelling."""

import numpy as np

import gradgen
from tests import seed_functions as seeds

NEURON_TEXTBOOK = '''\
import math

def grad_neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    t0 = math.exp(-s3)
    t1 = 1.0 + t0
    L = 1.0 / t1
    # backward: adjoints in reverse order (grad_v = dL/dv)
    # seed_functions.py:18: L = sigmoid(s3)  [inlined from line 10]
    grad_L = 1.0
    grad_s3 = -(-grad_L * L / t1 * t0)
    # seed_functions.py:17: s3 = s2 + w2
    grad_s2 = grad_s3
    grad_w2 = grad_s3
    # seed_functions.py:16: s2 = s0 + s1
    grad_s0 = grad_s2
    grad_s1 = grad_s2
    # seed_functions.py:15: s1 = w1 * x1
    grad_w1 = grad_s1 * x1
    grad_x1 = grad_s1 * w1
    # seed_functions.py:14: s0 = w0 * x0
    grad_w0 = grad_s0 * x0
    grad_x0 = grad_s0 * w0
    return (grad_w0, grad_x0, grad_w1, grad_x1, grad_w2)
'''

NEURON_OPTIMIZED = '''\
import math

def grad_neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = 1.0 / (1.0 + math.exp(-s3))
    # backward: adjoints in reverse order (grad_v = dL/dv)
    # seed_functions.py:18: L = sigmoid(s3)  [inlined from line 10]
    grad_s3 = L * (1.0 - L)
    # seed_functions.py:15: s1 = w1 * x1
    grad_w1 = grad_s3 * x1
    grad_x1 = grad_s3 * w1
    # seed_functions.py:14: s0 = w0 * x0
    grad_w0 = grad_s3 * x0
    grad_x0 = grad_s3 * w0
    return (grad_w0, grad_x0, grad_w1, grad_x1, grad_s3)
'''


def test_neuron_textbook_form_is_the_seeds_flat_code():
    assert gradgen.grad(seeds.neuron, wrt=(0, 1, 2, 3, 4), optimize=False).source == NEURON_TEXTBOOK


def test_neuron_optimized_form():
    assert gradgen.grad(seeds.neuron, wrt=(0, 1, 2, 3, 4)).source == NEURON_OPTIMIZED


def test_ssa_versions_get_suffixes_and_dead_names_are_reused():
    source = gradgen.grad(seeds.reassigned, wrt=(0, 1), optimize=False).source
    assert "a_1 = a * a" in source and "a_2 = a_1 * b" in source  # old versions feed the backward
    assert "grad_a_1 = grad_a_2 * b" in source  # adjoints are named after their SSA version
    assert "s = s + b" in source  # the old s is dead: its name is reused


def test_accumulation_reads_like_plus_equals():
    source = gradgen.grad(seeds.fan_out, optimize=False).source
    assert "grad_x = grad_x + " in source


def test_module_aliases_and_builtins_avoid_parameter_names():
    gradient = gradgen.grad(seeds.shadowing, wrt=(0, 1))
    assert "max(np, math)" in gradient.source
    # d/dnp max(np, math) * np at np=3 > math=2: 2 * np = 6; d/dmath = 0
    assert gradient(3.0, 2.0) == (6.0, 0.0)
    array_gradient = gradgen.grad(seeds.shadowing, wrt=0)
    assert "import numpy as np_1" in array_gradient.source or "np.maximum" not in array_gradient.source


def test_negative_constants_and_precedence_survive_unparsing():
    source = gradgen.grad(seeds.two_layer_loss, wrt=(0, 1)).source
    compile(source, "<test>", "exec")
    assert "np.maximum(s, 0)" in source


def test_emitted_code_is_deterministic():
    assert gradgen.grad(seeds.neuron).source == gradgen.grad(seeds.neuron).source


def test_array_code_imports_numpy_and_runtime():
    source = gradgen.grad(seeds.array_add, wrt=(0, 1)).source
    assert source.startswith("from gradgen import runtime\n")
    assert "np.sum" not in source.split("# backward")[0]  # the unused output cannot raise: not recomputed
    a, b = np.ones((2, 3)), np.ones(3)
    grad_a, grad_b = gradgen.grad(seeds.array_add, wrt=(0, 1))(a, b)
    np.testing.assert_array_equal(grad_b, np.full(3, 2.0))


def test_unused_forward_code_is_recomputed_only_where_it_can_raise():
    source = gradgen.grad(seeds.dead_domain_error).source
    assert "math.log(-x)" in source  # raises for x > 0, as the forward does
    assert "x * 3.0" not in source.split("# backward")[0].replace("grad", "")  # cannot raise: dropped
    import pytest

    with pytest.raises(ValueError):
        gradgen.grad(seeds.dead_domain_error)(2.0)


def test_an_unused_product_is_kept_where_its_operands_may_be_numbers():
    # fuzzer finding: the dead `w @ x` was dropped, so floats got a gradient where the forward
    # raises TypeError ('@' is not defined for Python numbers)
    import pytest

    gradient = gradgen.grad(seeds.dead_product_of_numbers, wrt=(0, 1))
    with pytest.raises(TypeError):
        seeds.dead_product_of_numbers(2.0, 3.0)
    with pytest.raises(TypeError):
        gradient(2.0, 3.0)
    w, x = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(gradient(w, x)[0], x)  # arrays: the product is fine and unused


def test_untyped_scalar_code_is_guarded_not_dispatched():
    gradient = gradgen.grad(seeds.unknown_output, wrt=(0, 1))
    assert "if x.__class__ is not float or y.__class__ is not float:" in gradient.source
    assert gradient(2.0, 3.0) == (3.0, 2.0)
    assert gradient(2, 3) == (3.0, 2.0) and type(gradient(2, 3)[0]) is float  # the general code
    import numpy as np
    import pytest

    with pytest.raises(gradgen.NonScalarOutputError):
        gradient(np.ones(2), 3.0)
