"""vjp and jacobian: functions with vector outputs, against finite differences."""

import inspect
import re

import numpy as np
import pytest

import gradgen
from tests import vector_functions as vf

rng = np.random.default_rng(7)
X, W = rng.normal(size=3), rng.normal(size=(4, 3))


def numeric_jacobian(f, args, position, eps=1e-6):
    args = [np.array(a, dtype=float) for a in args]
    base = np.asarray(f(*args))
    jacobian = np.zeros(base.shape + args[position].shape)
    for index in np.ndindex(args[position].shape):
        plus, minus = [a.copy() for a in args], [a.copy() for a in args]
        plus[position][index] += eps
        minus[position][index] -= eps
        jacobian[(...,) + index] = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)
    return jacobian


def test_vjp_is_the_cotangent_times_the_jacobian():
    pullback = gradgen.vjp(vf.layer, wrt=(0, 1))
    cotangent = rng.normal(size=4)
    grad_x, grad_W = pullback(X, W, cotangent)
    np.testing.assert_allclose(grad_x, cotangent @ numeric_jacobian(vf.layer, (X, W), 0), rtol=1e-6)
    np.testing.assert_allclose(grad_W, np.tensordot(cotangent, numeric_jacobian(vf.layer, (X, W), 1), 1), rtol=1e-6)
    # the generic (unspecialized) code agrees
    np.testing.assert_allclose(pullback.generic(X, W, cotangent)[1], grad_W, rtol=1e-12)


def test_vjp_specializes_to_plain_products():
    source = gradgen.vjp(vf.layer, wrt=(0, 1)).source_for(X, W, np.ones(4))
    assert re.search(r"grad_x = W.T.dot\(t\d+\)\n", source) and "grad_W = np.outer(" in source


def test_jacobian_has_output_then_input_dimensions():
    jacobian = gradgen.jacobian(vf.layer, wrt=(0, 1))(X, W)
    assert jacobian[0].shape == (4, 3) and jacobian[1].shape == (4, 4, 3)
    np.testing.assert_allclose(jacobian[0], numeric_jacobian(vf.layer, (X, W), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jacobian[1], numeric_jacobian(vf.layer, (X, W), 1), rtol=1e-6, atol=1e-9)


def test_jacobian_of_a_scalar_output_is_the_gradient():
    assert gradgen.jacobian(vf.scalar_pair, wrt=(0, 1))(2.0, 3.0) == gradgen.grad(vf.scalar_pair, wrt=(0, 1))(2.0, 3.0)
    np.testing.assert_allclose(gradgen.jacobian(vf.vector_sum)(X), 2 * X)


def test_vjp_keeps_defaults_and_makes_the_cotangent_keyword_only_after_them():
    pullback = gradgen.vjp(vf.scaled_sine)
    assert str(inspect.signature(pullback)) == "(x, scale=2.0, *, grad_out)"
    np.testing.assert_allclose(pullback(X, grad_out=np.ones(3)), 2.0 * np.cos(X))
    np.testing.assert_allclose(gradgen.jacobian(vf.scaled_sine)(X, 3.0), np.diag(3.0 * np.cos(X)))


def test_the_cotangent_parameter_never_collides_with_the_users_names():
    pullback = gradgen.vjp(vf.has_grad_out, wrt=(0, 1))
    assert "grad_out_" in inspect.signature(pullback).parameters
    assert pullback(2.0, 3.0, 1.0) == (3.0, 2.0)


def test_grad_of_a_vector_output_points_to_vjp():
    with pytest.raises(gradgen.NonScalarOutputError, match="vjp"):
        gradgen.grad(vf.layer)(X, W)
