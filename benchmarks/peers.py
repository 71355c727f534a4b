"""One gradient evaluation per system, prepared from the same forward factory.

``prepare(peer, workload)`` builds (compiles, traces, differentiates symbolically...) once and
returns a ``Prepared``: a zero-argument ``call`` that evaluates the gradient at the workload's
point, plus what the build cost. A peer that is not installed raises ``Unavailable``; one
that does not apply to the workload (sympy on arrays) raises ``NotApplicable``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import time
import types
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import gradgen
from gradgen.ir import subgraphs
from workloads import Workload

try:
    import autograd
    import autograd.numpy as autograd_numpy
except ImportError:
    autograd = None

try:
    import jax
    import jax.numpy as jax_numpy

    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = None

try:
    import torch
except ImportError:
    torch = None

try:
    import sympy
except ImportError:
    sympy = None

PEERS = ("hand", "gradgen", "autograd", "jax grad", "jax jit(grad)", "torch", "sympy")
VERSIONED = {"gradgen": "gradgen", "numpy": "numpy", "autograd": "autograd", "jax": "jax", "jaxlib": "jaxlib", "torch": "torch", "sympy": "sympy"}


class Unavailable(Exception):
    """The peer is not installed."""


class NotApplicable(Exception):
    """The peer is not run on this workload."""


@dataclass(frozen=True)
class Prepared:
    call: Callable[[], Any]  # one gradient evaluation
    build_seconds: float | None = None  # compile / trace+compile / diff+lambdify time
    ops: int | None = None  # size of the generated gradient code, when the peer has one


def versions() -> dict[str, str]:
    found = {}
    for label, distribution in VERSIONED.items():
        try:
            found[label] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[label] = "not installed"
    return found


def as_arrays(result: Any) -> tuple[np.ndarray, ...]:
    """A peer's gradients as float64 numpy arrays (torch tensors detached, jax arrays copied)."""
    if not isinstance(result, (tuple, list)):
        result = (result,)
    return tuple(np.asarray(r.detach() if hasattr(r, "detach") else r, dtype=np.float64) for r in result)


def agree(got: Any, want: Any, rtol: float = 1e-7) -> bool:
    got, want = as_arrays(got), as_arrays(want)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=1e-10 * scale):
            return False
    return True


def prepare(peer: str, workload: Workload) -> Prepared:
    return _BUILDERS[peer](workload)


def _hand(workload: Workload) -> Prepared:
    if workload.hand is None:
        raise NotApplicable("no hand-written backward")
    return Prepared(functools.partial(workload.hand, *workload.args))


def _gradgen(workload: Workload) -> Prepared:
    namespace = np if workload.arrays else math
    forward = workload.make(namespace)
    start = time.perf_counter()
    backward = gradgen.grad(forward, wrt=workload.wrt)
    build = time.perf_counter() - start
    return Prepared(functools.partial(backward, *workload.args), build, _op_count(backward.graph))


def _op_count(graph: Any) -> int:
    """Equations other than copies, those of branches and loop bodies included (a loop is one)."""
    return sum(equation.op != "copy" for equation in graph.equations) + sum(_op_count(sub) for equation in graph.equations for sub in subgraphs(equation))


def _autograd(workload: Workload) -> Prepared:
    if autograd is None:
        raise Unavailable("autograd")
    backward = autograd.grad(workload.make(autograd_numpy), argnum=workload.argnums)
    return Prepared(functools.partial(backward, *workload.args))


def _jax_arguments(workload: Workload) -> tuple[Any, ...]:
    return tuple(jax_numpy.asarray(a, dtype=jax_numpy.float64) for a in workload.args)


def _jax_grad(workload: Workload) -> Prepared:
    if jax is None:
        raise Unavailable("jax")
    backward = jax.grad(workload.make(jax_numpy), argnums=workload.argnums)
    arguments = _jax_arguments(workload)
    return Prepared(lambda: jax.block_until_ready(backward(*arguments)))


def _jax_jit(workload: Workload) -> Prepared:
    if jax is None:
        raise Unavailable("jax")
    arguments = _jax_arguments(workload)
    start = time.perf_counter()
    backward = jax.jit(jax.grad(workload.make(jax_numpy), argnums=workload.argnums))
    jax.block_until_ready(backward(*arguments))  # trace + XLA compile + one run
    build = time.perf_counter() - start
    return Prepared(lambda: jax.block_until_ready(backward(*arguments)), build)


def _torch_maximum(a: Any, b: Any) -> Any:
    """numpy's maximum, which also takes a Python scalar."""
    return torch.maximum(a, torch.as_tensor(b, dtype=a.dtype))


def _torch_namespace() -> types.SimpleNamespace:
    names = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sum", "mean", "minimum")
    return types.SimpleNamespace(maximum=_torch_maximum, **{name: getattr(torch, name) for name in names})


def _torch(workload: Workload) -> Prepared:
    if torch is None:
        raise Unavailable("torch")
    forward = workload.make(_torch_namespace())
    arguments = [
        torch.tensor(value, dtype=torch.float64, requires_grad=name in workload.wrt) for name, value in workload.point
    ]
    inputs = [arguments[i] for i in workload.argnums]

    def call() -> Any:
        return torch.autograd.grad(forward(*arguments), inputs)

    return Prepared(call)


def sympy_gradient(workload: Workload) -> tuple[Callable[..., Any], float, int]:
    """diff + lambdify(cse=True): the gradient function, its build time and its cse'd op count."""
    names = [name for name, _ in workload.point]
    start = time.perf_counter()
    symbols = sympy.symbols(names)
    expression = workload.make(sympy)(*symbols)
    gradients = [sympy.diff(expression, symbols[i]) for i in workload.argnums]
    function = sympy.lambdify(symbols, gradients, modules="math", cse=True)
    build = time.perf_counter() - start
    replacements, reduced = sympy.cse(gradients)
    ops = sum(sympy.count_ops(e) for _, e in replacements) + sum(sympy.count_ops(e) for e in reduced)
    return function, build, int(ops)


def _sympy(workload: Workload) -> Prepared:
    if sympy is None:
        raise Unavailable("sympy")
    if workload.arrays:
        raise NotApplicable("sympy: scalar workloads only")
    function, build, ops = sympy_gradient(workload)
    return Prepared(functools.partial(function, *workload.args), build, ops)


_BUILDERS = {
    "hand": _hand,
    "gradgen": _gradgen,
    "autograd": _autograd,
    "jax grad": _jax_grad,
    "jax jit(grad)": _jax_jit,
    "torch": _torch,
    "sympy": _sympy,
}
