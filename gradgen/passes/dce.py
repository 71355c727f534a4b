"""Dead-code elimination."""

from __future__ import annotations

from gradgen.ir import Constant, Equation, Graph, Value
from gradgen.ops import OPS

# math.* functions that raise outside their domain (or on overflow) instead of returning nan/inf.
_MATH_RAISES = frozenset({"log", "log1p", "sqrt", "exp", "expm1", "arcsin", "arccos", "sinh", "cosh", "log2", "log10"})


def may_raise(equation: Equation) -> bool:
    """Whether the user's forward computation can raise where numpy would only warn, so that the
    gradient, which recomputes it even when unused, raises where the forward raises."""
    op, params = equation.op, dict(equation.params)
    if op in _MATH_RAISES and params.get("lib") == "math":
        return True
    if params.get("lib") in ("method", "attribute"):
        return not all(isinstance(a, Value) and a.shape for a in equation.inputs[:1])  # no such method
    if op == "cast":
        return True  # float(array) raises
    if op == "div":
        divisor = equation.inputs[1]
        return not (isinstance(divisor, Constant) and divisor.value != 0)  # x / 0.0 raises
    if op == "pow":
        exponent = equation.inputs[1]
        safe = isinstance(exponent, Constant) and isinstance(exponent.value, (int, float)) and exponent.value >= 0
        return not safe  # 0.0 ** -0.5 raises ZeroDivisionError for Python numbers
    return False


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop equations whose outputs nothing reads (except effects and forward code that may raise)."""
    live = {a.id for a in graph.outputs if isinstance(a, Value)}
    kept = []
    for equation in reversed(graph.equations):
        keep = OPS[equation.op].effect or (equation.forward and may_raise(equation))
        if keep or any(v.id in live for v in equation.outputs):
            kept.append(equation)
            live.update(a.id for a in equation.inputs if isinstance(a, Value))
    if len(kept) == len(graph.equations):
        return graph
    return type(graph)(graph.inputs, tuple(reversed(kept)), graph.outputs)
