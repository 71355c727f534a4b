"""Constant folding and algebraic simplification.

Every rewrite keeps the id and name of the value it rewrites, so named values survive. An
identity that drops a float constant (``x * 1.0 -> x``) is applied only where ``x`` is proven
to be a float already, so an integer argument still gets a float gradient. There is no
``0 * x -> 0``: it would drop ``x``'s shape (and nan), which is the evidence the run-time check
of a scalar output relies on. Negations are pushed
outwards until two cancel or one turns an addition into a subtraction; then the sigmoid's
slope ``L / (1 + t) * t`` becomes the hand-written ``L * (1 - L)`` (see ``products.py``).

A cond's branches and a loop's body are simplified on their own, once readied by
``simplify_blocks.py`` (constants moved into them, unchanged carried values made invariant); a
cond whose predicate folded to a constant is replaced by the branch it selects.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Union

from gradgen.builder import is_scalar
from gradgen.ir import (
    Atom,
    Constant,
    Equation,
    Graph,
    Value,
    branches,
    is_constant_number,
    loop_layout,
    uses,
)
from gradgen.ops import OPS
from gradgen.passes.products import first_power_factor, slope_factor
from gradgen.passes.simplify_blocks import (
    constant_invariants_inside,
    constant_operands_inside,
    known_floats,
    unchanged_carried,
)
from gradgen.passes.substitution import map_branches, rebuild, substitute, substitute_inputs
from gradgen.shapes import is_float_dtype

# Ops whose result is a float whatever their inputs (given numbers or numeric arrays).
_ALWAYS_FLOAT = frozenset(
    {"div", "ieee_div", "mean", "cast", "output_seed", "zeros_like", "expand_reduced",
     "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan"}
)
# Ops whose result is a float when any input is.
_FLOAT_IF_ANY = frozenset(
    {"add", "sub", "mul", "pow", "ieee_pow", "neg", "abs", "sign", "maximum", "minimum", "copy", "sum",
     "transpose", "matmul", "dot", "unbroadcast", "matmul_vjp_left", "matmul_vjp_right",
     "dot_vjp_left", "dot_vjp_right"}
)

Rewrite = Union[Atom, list[Equation], None]

# What a product's rewrites look through, besides a constant factor: x ** 1 (products.py),
# a / (1 + t) (products.py) and negations.
_FACTOR_PATTERNS = frozenset({"pow", "div", "neg"})


# What a value's producer proves it is (see ``_Simplifier.kind``).
_OTHER, _NUMBER, _FLOAT = 0, 1, 2


class _Simplifier:
    def __init__(self, graph: Graph):
        self.use_counts = uses(graph)
        self.producers: dict[int, Equation] = {}
        self.kinds: dict[int, int] = {}  # value id -> _FLOAT, _NUMBER or _OTHER, found on demand
        # y = 1 / d: d's id -> y (see products.py)
        self.reciprocals: dict[int, Value] = {}
        self.graph = graph
        self.next_id: int | None = None  # found on the first fresh value (most rounds make none)

    # -- facts --------------------------------------------------------------------------------

    def is_float(self, atom: Atom) -> bool:
        if isinstance(atom, Constant):
            return isinstance(atom.value, float)
        return self.kind(atom) == _FLOAT or is_float_dtype(atom.dtype)

    def is_number(self, atom: Atom) -> bool:
        """Proven to be an int or float (a number or numeric array), not a bool: numpy's bools
        add as logical or, so ``b * 1 -> b`` would change ``b * 1 + b * 1``."""
        if isinstance(atom, Constant):
            return isinstance(atom.value, (int, float)) and not isinstance(atom.value, bool)
        if atom.dtype is not None:
            return "bool" not in atom.dtype
        return self.kind(atom) != _OTHER

    def record(self, equation: Equation) -> None:
        self.producers[equation.output.id] = equation
        if equation.op == "div" and is_constant_number(equation.inputs[0], 1) and isinstance(equation.inputs[1], Value):
            self.reciprocals.setdefault(equation.inputs[1].id, equation.output)

    def kind(self, value: Value) -> int:
        """What the producers recorded so far prove ``value`` is, from its own producer and what
        they prove of its operands. Found when a rewrite asks (few do: most equations never need
        it), and remembered; the walk down the operands keeps its own stack, since a chain of
        producers is as long as the program."""
        pending = [value]
        while pending:
            current = pending[-1]
            if current.id in self.kinds:
                pending.pop()
                continue
            producer = self.producers.get(current.id)
            if producer is None or producer.op not in _FLOAT_IF_ANY:
                always = producer is not None and producer.op in _ALWAYS_FLOAT
                self.kinds[current.id] = _FLOAT if always else _OTHER
                pending.pop()
                continue
            unknown = [a for a in producer.inputs if isinstance(a, Value) and a.id not in self.kinds]
            if unknown:
                pending.extend(unknown)
                continue
            self.kinds[current.id] = self._kind_of_result(producer)
            pending.pop()
        return self.kinds[value.id]

    def _kind_of_result(self, equation: Equation) -> int:
        # builtin max/min return the argument they pick, unchanged: a float only if all are
        picks = equation.op in ("maximum", "minimum") and equation.param("lib") == "builtins"
        floats = [self.is_float(a) for a in equation.inputs]
        if all(floats) if picks else any(floats):
            return _FLOAT
        return _NUMBER if any(self.is_number(a) for a in equation.inputs) else _OTHER

    def negated(self, atom: Atom) -> Atom | None:
        """``a`` if ``atom`` is ``-a`` used only here, else None."""
        if isinstance(atom, Value) and self.use_counts.get(atom.id, 0) == 1:
            producer = self.producers.get(atom.id)
            if producer is not None and producer.op == "neg":
                return producer.inputs[0]
        return None

    def drops_safely(self, constant: Atom, kept: Atom) -> bool:
        """Dropping ``constant`` from an operation leaves ``kept``'s type unchanged: a float
        constant needs a float ``kept`` (an int argument still gets a float gradient), an int
        one a numeric ``kept`` (a bool array times 1 is an int array)."""
        if isinstance(constant, Constant) and isinstance(constant.value, float):
            return self.is_float(kept)
        return self.is_number(kept)

    def fresh(self, like: Value, scalar: bool) -> Value:
        if self.next_id is None:
            graph = self.graph
            ids = [v.id for v in graph.inputs] + [v.id for eq in graph.equations for v in eq.outputs]
            self.next_id = max(ids, default=-1) + 1
        value = Value(self.next_id, "", scalar)
        self.next_id += 1
        return value

    def build(self, equation: Equation, op: str, inputs: tuple[Atom, ...], *, inner: str | None = None) -> list[Equation]:
        """``op(*inputs)`` defining equation's output; with ``inner``, ``op(inner(*inputs))``."""
        if inner is None:
            return [dataclasses.replace(equation, op=op, inputs=inputs, params=())]
        scalar = all(is_scalar(a) for a in inputs)
        temporary = self.fresh(equation.output, scalar)
        first = Equation(inner, inputs, (temporary,), (), equation.location, equation.forward)
        return [first, dataclasses.replace(equation, op=op, inputs=(temporary,), params=())]

    # -- control flow -------------------------------------------------------------------------

    def selected_branch(self, eq: Equation) -> tuple[list[Equation], dict[int, Atom]]:
        """The equations of the branch a constant predicate selects, renumbered into this scope,
        and what each output of the cond becomes."""
        branch = branches(eq)[0 if eq.inputs[0].value else 1]  # type: ignore[union-attr]
        mapping: dict[int, Atom] = {v.id: a for v, a in zip(branch.inputs, eq.inputs[1:])}
        equations = []
        for inner in branch.equations:
            inner = substitute_inputs(inner, mapping)
            outputs = tuple(dataclasses.replace(v, id=self.fresh(v, v.scalar).id) for v in inner.outputs)
            mapping.update((old.id, new) for old, new in zip(inner.outputs, outputs))
            equations.append(dataclasses.replace(inner, outputs=outputs))
        return equations, {v.id: substitute(a, mapping) for v, a in zip(eq.outputs, branch.outputs)}

    # -- rewrites -----------------------------------------------------------------------------

    def rewrite(self, equation: Equation) -> Rewrite:
        folded = self.fold(equation)
        if folded is not None:
            return folded
        handler = _HANDLERS.get(equation.op)
        return handler(self, equation) if handler else None

    def fold(self, equation: Equation) -> Constant | None:
        for atom in equation.inputs:  # most equations read a value: settled before any lookup
            if not (isinstance(atom, Constant) and isinstance(atom.value, (int, float, bool))):
                return None
        spec = OPS[equation.op]
        if spec.fold is None or spec.effect or not equation.inputs:
            return None
        try:
            result = spec.fold(*(a.value for a in equation.inputs))  # type: ignore[union-attr]
        except (ArithmeticError, ValueError, TypeError):
            return None  # leave it for run time, where it fails (or not) as Python would
        if isinstance(result, complex) or (isinstance(result, float) and not math.isfinite(result)):
            return None
        return Constant(result)

    def add(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if is_constant_number(y, 0) and self.drops_safely(y, x):
            return x  # x + 0 -> x
        if is_constant_number(x, 0) and self.drops_safely(x, y):
            return y  # 0 + x -> x
        b = self.negated(y)
        if b is not None:
            return self.build(eq, "sub", (x, b))  # a + (-b) -> a - b
        a = self.negated(x)
        if a is not None:
            return self.build(eq, "sub", (y, a))  # (-a) + b -> b - a
        return None

    def sub(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if is_constant_number(y, 0) and self.drops_safely(y, x):
            return x  # x - 0 -> x
        if is_constant_number(x, 0) and self.drops_safely(x, y):
            return self.build(eq, "neg", (y,))  # 0 - x -> -x
        b = self.negated(y)
        if b is not None:
            return self.build(eq, "add", (x, b))  # a - (-b) -> a + b
        a = self.negated(x)
        if a is not None:
            return self.build(eq, "neg", (a, y), inner="add")  # (-a) - b -> -(a + b)
        return None

    def mul(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if not (isinstance(x, Constant) or isinstance(y, Constant) or self._made_by(x, _FACTOR_PATTERNS) or self._made_by(y, _FACTOR_PATTERNS)):
            return None  # the rewrites below all need one (most products have neither)
        regrouped = self._regroup_constants(eq)
        if regrouped is not None:
            return regrouped
        for constant, other in ((y, x), (x, y)):
            if not isinstance(constant, Constant):
                continue
            if is_constant_number(constant, 1) and self.drops_safely(constant, other):
                return other  # x * 1 -> x
            if is_constant_number(constant, -1) and self.drops_safely(constant, other):
                return self.build(eq, "neg", (other,))  # x * -1 -> -x
        return first_power_factor(self, eq) or slope_factor(self, eq) or self._pull_negation(eq)

    def _made_by(self, atom: Atom, ops: frozenset[str]) -> bool:
        producer = self.producers.get(atom.id) if isinstance(atom, Value) else None
        return producer is not None and producer.op in ops

    def _regroup_constants(self, eq: Equation) -> Rewrite:
        # (a * c1) * c2 -> a * (c1 * c2), exact when c1 or c2 is a power of two (a rescaling
        # that rounds nothing), e.g. lam * 0.5 * 2 -> lam * 1.0
        x, c2 = eq.inputs
        if not (isinstance(c2, Constant) and c2.is_number and isinstance(x, Value) and self.use_counts.get(x.id, 0) == 1):
            return None
        producer = self.producers.get(x.id)
        if producer is None or producer.op != "mul" or not isinstance(producer.inputs[1], Constant):
            return None
        a, c1 = producer.inputs
        if not (c1.is_number and (_power_of_two(c1.value) or _power_of_two(c2.value))):  # type: ignore[union-attr]
            return None
        return self.build(eq, "mul", (a, Constant(c1.value * c2.value)))  # type: ignore[union-attr, operator]

    def div(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if is_constant_number(y, 1) and self.is_float(x):
            return x  # x / 1 -> x
        return self._pull_negation(eq)

    def _pull_negation(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        a, b = self.negated(x), self.negated(y)
        if a is not None and b is not None:
            return self.build(eq, eq.op, (a, b))  # (-a) * (-b) -> a * b
        if a is not None:
            return self.build(eq, "neg", (a, y), inner=eq.op)  # (-a) * b -> -(a * b)
        if b is not None:
            return self.build(eq, "neg", (x, b), inner=eq.op)  # a * (-b) -> -(a * b)
        return None

    def pow(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if is_constant_number(y, 1) and self.drops_safely(y, x):
            return x  # x ** 1 -> x
        return None

    def ieee_div(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if isinstance(y, Constant) and y.is_number and y.value != 0:
            return self.build(eq, "div", (x, y))  # a nonzero constant divisor cannot raise: plain /
        return None

    def ieee_pow(self, eq: Equation) -> Rewrite:
        x, y = eq.inputs
        if isinstance(y, Constant) and y.is_number and float(y.value).is_integer() and y.value >= 0:  # type: ignore[arg-type]
            return self.build(eq, "pow", (x, y))  # x ** 2 cannot raise: plain **
        return None

    def neg(self, eq: Equation) -> Rewrite:
        a = self.negated(eq.inputs[0])
        if a is not None:
            return a  # -(-a) -> a
        return None


def _power_of_two(number: float) -> bool:
    mantissa, _ = math.frexp(abs(number))
    return number != 0 and mantissa == 0.5


_HANDLERS: dict[str, Callable[[_Simplifier, Equation], Rewrite]] = {
    "add": _Simplifier.add,
    "sub": _Simplifier.sub,
    "mul": _Simplifier.mul,
    "div": _Simplifier.div,
    "pow": _Simplifier.pow,
    "neg": _Simplifier.neg,
    "ieee_div": _Simplifier.ieee_div,
    "ieee_pow": _Simplifier.ieee_pow,
}


def simplify(graph: Graph) -> Graph:
    """Fold constants and apply the algebraic identities above, each once per round."""
    simplifier = _Simplifier(graph)
    replacements: dict[int, Atom] = {}
    equations: list[Equation] = []
    changed = False
    for equation in graph.equations:
        equation = substitute_inputs(equation, replacements)
        if equation.op == "cond":
            if isinstance(equation.inputs[0], Constant):
                selected, outputs = simplifier.selected_branch(equation)
                for new in selected:
                    equations.append(new)
                    simplifier.record(new)
                replacements.update(outputs)
                changed = True
                continue
            inside = constant_operands_inside(equation)
            floats = [simplifier.is_float(a) for a in inside.inputs[1:]]
            simplified = map_branches(inside, lambda branch: simplify(known_floats(branch, floats)))
            changed = changed or simplified != equation
            equation = simplified
        elif equation.op == "while":
            simplified = map_branches(equation, simplify)
            changed = changed or simplified is not equation
            equation = simplified
        elif equation.op == "loop":
            unchanged = unchanged_carried(equation)
            if unchanged is not None:
                equation, passed = unchanged
                replacements.update(passed)
                changed = True
            inside = constant_invariants_inside(equation)
            layout = loop_layout(inside)
            floats = [False] * (1 + layout.carried) + [simplifier.is_float(a) for a in layout.invariants(inside)]
            simplified = map_branches(inside, lambda body: simplify(known_floats(body, floats)))
            changed = changed or simplified != equation
            equation = simplified
        result = simplifier.rewrite(equation)
        if result is None:
            equations.append(equation)
            simplifier.record(equation)
            continue
        changed = True
        if isinstance(result, list):
            for new in result:
                equations.append(new)
                simplifier.record(new)
        else:
            replacements[equation.output.id] = result
    if not changed:
        return graph
    return rebuild(graph, equations, replacements)
