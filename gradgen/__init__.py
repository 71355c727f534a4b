"""gradgen: source-to-source reverse-mode differentiation for Python.

gradgen reads a forward function's source, builds an SSA graph, applies one derivative rule per
op in reverse topological order and emits a flat, optimized backward function as Python source.

    >>> import gradgen
    >>> # dneuron = gradgen.grad(neuron, wrt=(0, 1, 2, 3, 4)); print(dneuron.source)

Public API: ``grad``, ``value_and_grad``, ``vjp``, ``jacobian``, ``check`` and the
``GradgenError`` family.
"""

from gradgen.api import grad, jacobian, value_and_grad, vjp
from gradgen.errors import (
    GradgenError,
    InvalidArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    SourceUnavailableError,
    UnknownFunctionError,
    UnknownNameError,
    UnsupportedSyntaxError,
)


def check(f, *args, wrt=None, optimize=True):
    """Compare gradgen's gradient of ``f`` at ``args`` with sympy's (see ``sympy_bridge.check``)."""
    from gradgen.sympy_bridge import check as sympy_check

    return sympy_check(f, *args, wrt=wrt, optimize=optimize)


__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jacobian",
    "check",
    "GradgenError",
    "InvalidArgumentError",
    "MissingRuleError",
    "NonScalarOutputError",
    "SourceUnavailableError",
    "UnknownFunctionError",
    "UnknownNameError",
    "UnsupportedSyntaxError",
]
__version__ = "0.1.0"
