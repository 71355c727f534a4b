"""Reverse mode: a forward graph -> one graph computing the forward values and the gradients.

Guarantees: equations are visited in reverse topological order; each applies its op's rule
(``rules.instantiate``) to its output's adjoint; contributions to a value that fans out are
summed (the multivariate chain rule) in the order they arrive, named ``grad_<name>`` like
the textbook's ``+=``. Adjoints are computed only for values on a path from a ``wrt`` input
to the output. Where an elementwise op broadcast an input, its gradient is summed back to the
input's shape (``unbroadcast``); where the scalar analysis proves no broadcast, nothing is added.

The result's outputs are ``(*forward outputs, *gradients)``, one gradient per ``wrt`` index;
an input the output does not depend on gets a zero of its shape.
"""

from __future__ import annotations

from gradgen import ops, rules
from gradgen.builder import GraphBuilder, is_scalar
from gradgen.ir import Atom, Constant, Equation, Graph, Value


def differentiate(graph: Graph, wrt: tuple[int, ...], *, check_output: bool, seed: Value | None = None) -> Graph:
    """Append the backward pass of ``graph.outputs[0]`` with respect to ``graph.inputs[wrt]``.

    ``check_output``: the output is not proven scalar, so the seed ``output_seed(L)`` checks it
    at run time instead of being the constant 1.0. ``seed``: an input of ``graph`` holding the
    output's adjoint (a cotangent, for vector-Jacobian products) instead of either.
    """
    output = graph.outputs[0]
    wrt_values = tuple(graph.inputs[i] for i in wrt)
    needed = _on_path(graph, wrt_values, output)
    builder = GraphBuilder(first_id=next_id(graph))
    for equation in graph.equations:
        builder.append(equation)

    adjoints: dict[int, Atom] = {}
    if isinstance(output, Value):
        location = _location_of(graph, output)
        if seed is not None:
            adjoints[output.id] = seed
        elif check_output:
            adjoints[output.id] = builder.add("output_seed", (output,), location=location, name=_adjoint_name(output, "output"), adjoint_of=output.id)
        elif output.id in needed:
            adjoints[output.id] = builder.name(Constant(1.0), _adjoint_name(output, "output"), location, adjoint_of=output.id)

    masks = _BranchMasks()
    for equation in reversed(graph.equations):
        adjoint = adjoints.get(equation.output.id)
        if adjoint is None or equation.output.id not in needed:
            continue
        wanted = tuple(isinstance(a, Value) and a.id in needed for a in equation.inputs)
        if not any(wanted):
            continue
        first_new_id = builder.next_id
        gradients = rules.instantiate(equation, adjoint, wanted, builder)
        claimed: set[int] = set()
        for position, (atom, gradient) in enumerate(zip(equation.inputs, gradients)):
            if gradient is None or not isinstance(atom, Value):
                continue
            gradient = masks.apply(equation, position, gradient, builder)
            if _needs_unbroadcast(equation, position):
                gradient = builder.add("unbroadcast", (gradient, atom), location=equation.location)
            # Only a value this rule just created may take the adjoint's name; anything older
            # (grad_z itself, for add) is referred to elsewhere and gets a named copy instead.
            fresh = isinstance(gradient, Value) and gradient.id >= first_new_id and gradient.id not in claimed
            if isinstance(gradient, Value):
                claimed.add(gradient.id)
            _accumulate(adjoints, atom, gradient, builder, equation, fresh)

    gradients = tuple(_final_gradient(adjoints, value, builder) for value in wrt_values)
    return builder.finish(graph.inputs, graph.outputs + gradients)


class _BranchMasks:
    """Which ``np.where`` branch each adjoint flows from, so nan stays out of the gradient.

    In ``np.where(x > 0, np.log(x), 0.0)`` the adjoint of the log branch is 0 where x <= 0,
    but the log's rule divides it by x: 0/0 is nan there. Every elementwise rule applied to an
    adjoint that came from one branch is therefore masked again with that branch's condition
    (``runtime.mask``), which makes it exactly 0 where the branch was not taken. A value
    whose adjoint has contributions from outside the branch is not masked.
    """

    def __init__(self) -> None:
        self.of: dict[int, tuple[tuple[Atom, bool], ...]] = {}

    def apply(self, equation: Equation, position: int, gradient: Atom, builder: GraphBuilder) -> Atom:
        inherited = self.of.get(equation.output.id, ())
        family = ops.OPS[equation.op].family
        target = equation.inputs[position]
        if equation.op == "where":
            contributed = inherited + ((equation.inputs[0], position == 1),)  # the template masked it
        elif family == "elementwise" and inherited:
            for condition, taken in inherited:
                gradient = builder.add("mask", (condition, gradient), (("taken", taken),), equation.location)
            contributed = inherited
        else:
            contributed = ()
        if isinstance(target, Value):
            self.of[target.id] = contributed if self.of.get(target.id, contributed) == contributed else ()
        return gradient


def _accumulate(
    adjoints: dict[int, Atom], value: Value, gradient: Atom, builder: GraphBuilder, equation: Equation, fresh: bool
) -> None:
    hint = _adjoint_name(value)
    previous = adjoints.get(value.id)
    if previous is None:
        if hint or fresh:
            gradient = builder.name(gradient, hint, equation.location, adjoint_of=value.id, rename=fresh)
        adjoints[value.id] = gradient
    else:
        adjoints[value.id] = builder.add("add", (previous, gradient), location=equation.location, name=hint, adjoint_of=value.id)


def _final_gradient(adjoints: dict[int, Atom], value: Value, builder: GraphBuilder) -> Atom:
    gradient = adjoints.get(value.id)
    if gradient is not None:
        return gradient
    if value.scalar:
        return Constant(0.0)
    return builder.add("zeros_like", (value,), name=_adjoint_name(value), adjoint_of=value.id)


def _needs_unbroadcast(equation: Equation, position: int) -> bool:
    # An elementwise op's output has the shape of an input when every other input is a
    # scalar; otherwise that input may have been broadcast and its gradient must be summed.
    if ops.OPS[equation.op].family != "elementwise":
        return False
    others = equation.inputs[:position] + equation.inputs[position + 1 :]
    return not all(is_scalar(atom) for atom in others)


def _on_path(graph: Graph, wrt: tuple[Value, ...], output: Atom) -> set[int]:
    """Ids of values that depend on a wrt input and that the output depends on."""
    depends_on_wrt = {v.id for v in wrt}
    for equation in graph.equations:
        if any(isinstance(a, Value) and a.id in depends_on_wrt for a in equation.inputs):
            depends_on_wrt.update(v.id for v in equation.outputs)
    if not isinstance(output, Value):
        return set()
    output_depends = {output.id}
    for equation in reversed(graph.equations):
        if any(v.id in output_depends for v in equation.outputs):
            output_depends.update(a.id for a in equation.inputs if isinstance(a, Value))
    return depends_on_wrt & output_depends


def _adjoint_name(value: Value, default: str = "") -> str:
    name = value.name or default
    return f"grad_{name}" if name else ""


def _location_of(graph: Graph, value: Value):
    for equation in graph.equations:
        if value in equation.outputs:
            return equation.location
    return None


def next_id(graph: Graph) -> int:
    """The first id not used by ``graph``: backward values are numbered from here."""
    ids = [v.id for v in graph.inputs]
    ids += [v.id for eq in graph.equations for v in eq.outputs]
    return max(ids, default=-1) + 1
