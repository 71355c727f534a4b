"""Reverse mode: a forward graph -> one graph computing the forward values and the gradients.

Guarantees: equations are visited in reverse topological order; each applies its op's rule
(``rules.instantiate``) to its output's adjoint; contributions to a value that fans out are
summed (the multivariate chain rule) in the order they arrive, named ``grad_<name>`` like
the textbook's ``+=``. Adjoints are computed only for values on a path from a ``wrt`` input
to the output. Where an elementwise op broadcast an input, its gradient is summed back to the
input's shape (``unbroadcast``); where the scalar analysis proves no broadcast, nothing is added.

The result's outputs are ``(*forward outputs, *gradients)``, one gradient per ``wrt`` index;
an input the output does not depend on gets a zero of its shape.

The reverse of ``outs = cond(p, *operands)`` is a cond on the same predicate (the forward value,
which the backward has recomputed): its operands are the forward operands and the adjoints of
``outs``, and each branch recomputes its forward branch, then walks it in reverse, returning
the adjoints of the operands. The predicate is not differentiated.

The reverse of a loop is a loop over the same range in reverse. The forward loop records, at the
start of each iteration, what the backward body reads of the carried values, on a list used as a
stack: a carried value, or only the views of it the backward reads (``H[t]``, see recording.py);
the backward body pops them, recomputes the forward body, and walks it backwards from the
adjoints of the carried values, carrying those adjoints and the sums of the invariants'. A
carried value the body returns (``h_1 = tanh(W @ h)``) is not recomputed where the backward
pops that value anyway: the iteration after popped it, and hands it over.
A ``while`` loop also counts its iterations; its backward is the same reversed loop, over that count.
Only the carried values a differentiated output depends on carry adjoints (``loop_dependencies``,
a fixed point over the body; ops without a rule, like comparisons, pass no dependency), so a
loop's flags and counters neither get adjoints nor go on the stack for them.
"""

from __future__ import annotations

import dataclasses

from gradgen import ops, rules
from gradgen.builder import GraphBuilder, is_scalar
from gradgen.ir import Atom, Constant, Equation, Graph, Value, branches, loop_layout, uses


def differentiate(graph: Graph, wrt: tuple[int, ...], *, check_output: bool, seed: Value | None = None) -> Graph:
    """Append the backward pass of ``graph.outputs[0]`` with respect to ``graph.inputs[wrt]``.

    ``check_output``: the output is not proven scalar, so the seed ``output_seed(L)`` checks it
    at run time instead of being the constant 1.0. ``seed``: an input of ``graph`` holding the
    output's adjoint (a cotangent, for vector-Jacobian products) instead of either.
    """
    output = graph.outputs[0]
    wrt_values = tuple(graph.inputs[i] for i in wrt)
    needed = _on_path(graph, wrt_values, (output,))
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

    _reverse(graph.equations, adjoints, needed, builder)
    gradients = tuple(_final_gradient(adjoints, value, builder) for value in wrt_values)
    return builder.finish(graph.inputs, graph.outputs + gradients)


def _reverse(equations: tuple[Equation, ...], adjoints: dict[int, Atom], needed: set[int], builder: GraphBuilder) -> None:
    """Walk ``equations`` in reverse, adding each one's contributions to ``adjoints``.

    ``np.where`` masks (``_BranchMasks``) follow adjoints within one walk; they do not enter
    the branches and bodies of conds and loops, whose walks start afresh."""
    masks = _BranchMasks()
    for equation in reversed(equations):
        if equation.op == "cond":
            _reverse_cond(equation, adjoints, needed, builder)
            continue
        if equation.op in ("loop", "while"):
            _reverse_loop(equation, adjoints, needed, builder)
            continue
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


def _reverse_cond(equation: Equation, adjoints: dict[int, Atom], needed: set[int], builder: GraphBuilder) -> None:
    """``grads = cond(p, *operands, *adjoints of outs)`` whose branches are the branches' backwards."""
    seeded = [j for j, v in enumerate(equation.outputs) if v.id in adjoints and v.id in needed]
    if not seeded:
        return
    dependencies = cond_dependencies(equation)
    reached = set().union(*(dependencies[j] for j in seeded))
    operands = equation.inputs[1:]
    wanted = tuple(isinstance(a, Value) and a.id in needed and position + 1 in reached for position, a in enumerate(operands))
    if not any(wanted):
        return
    seeds = tuple(adjoints[equation.outputs[j].id] for j in seeded)
    then, orelse = branches(equation)
    params = (("then", _branch_backward(then, seeded, seeds, wanted)), ("else", _branch_backward(orelse, seeded, seeds, wanted)))
    targets = [a for a, want in zip(operands, wanted) if want]
    outputs = tuple(builder.new_value("", a.scalar) for a in targets)  # type: ignore[union-attr]
    builder.append(Equation("cond", (equation.inputs[0], *operands, *seeds), outputs, params, equation.location))
    for target, gradient in zip(targets, outputs):
        _accumulate(adjoints, target, gradient, builder, equation, True)  # type: ignore[arg-type]


def _branch_backward(branch: Graph, seeded: list[int], seeds: tuple[Atom, ...], wanted: tuple[bool, ...]) -> Graph:
    """A branch's forward recomputed, then its reverse from ``seeds`` (adjoints of ``seeded`` outputs)."""
    builder = GraphBuilder(first_id=next_id(branch))
    seed_inputs = tuple(builder.new_value("", is_scalar(seed)) for seed in seeds)
    for equation in branch.equations:
        builder.append(dataclasses.replace(equation, forward=False))  # the forward cond already raised
    adjoints: dict[int, Atom] = {}
    for j, seed in zip(seeded, seed_inputs):
        output = branch.outputs[j]
        if isinstance(output, Value):
            previous = adjoints.get(output.id)
            adjoints[output.id] = seed if previous is None else builder.add("add", (previous, seed))
    wrt_values = tuple(v for v, want in zip(branch.inputs, wanted) if want)
    needed = _on_path(branch, wrt_values, tuple(branch.outputs[j] for j in seeded))
    _reverse(branch.equations, adjoints, needed, builder)
    gradients = tuple(_final_gradient(adjoints, value, builder) for value in wrt_values)
    return builder.finish(branch.inputs + seed_inputs, gradients)


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


def _reverse_loop(equation: Equation, adjoints: dict[int, Atom], needed: set[int], builder: GraphBuilder) -> None:
    """``grads = loop reversed(range) (*adjoints of outs, *zeros, *invariants, stack)``."""
    layout = loop_layout(equation)
    seeded = [j for j, v in enumerate(equation.outputs[: layout.carried]) if v.id in adjoints and v.id in needed]
    if not seeded:
        return
    # Only the carried values the seeded ones depend on carry adjoints (not a loop's flags).
    dependencies = loop_dependencies(equation)
    positions = sorted(set().union(*(dependencies[j][0] for j in seeded)))
    outputs = tuple(equation.outputs[k] for k in positions)
    initial, invariants = tuple(layout.initial(equation)[k] for k in positions), layout.invariants(equation)
    wanted = [m for m, a in enumerate(invariants) if isinstance(a, Value) and a.id in needed]
    if not wanted and not any(isinstance(a, Value) and a.id in needed for a in initial):
        return
    body, record, likes, handed = _body_backward(equation.param("body"), layout.carried, positions, wanted)  # type: ignore[arg-type]
    stack: tuple[Value, ...] = ()
    if record is not None:
        stack = (builder.new_value("stack"),)
        forward = builder.defining(equation.outputs[0])  # as appended: the recomputed copy, in a body
        builder.replace(forward, dataclasses.replace(forward, outputs=forward.outputs + stack, params=forward.params + (("record", record),)))
    seeds = tuple(adjoints[v.id] if v.id in adjoints and v.id in needed else _zero(v, builder) for v in outputs)
    sums = tuple(_zero(invariants[m], builder) for m in wanted)
    targets = (*initial, *(invariants[m] for m in wanted))
    # named after the adjoints they carry (grad_s for an accumulator s), then after their targets
    hints = [_adjoint_name(v) for v in outputs] + [""] * len(wanted) + [equation.outputs[k].name for k in handed]
    results = tuple(builder.new_value(hint, is_scalar(v)) for hint, v in zip(hints, body.outputs))
    params = (("body", body), ("reverse", True), ("pops", len(record.outputs) if record is not None else 0))
    # a while loop's backward runs as many times as it did: its count is recorded like a stack
    bounds = equation.inputs[:3] if equation.op == "loop" else (Constant(0), equation.outputs[layout.carried], Constant(1))
    finals = tuple(equation.outputs[k] for k in handed)  # the carried values after the last iteration
    shapes = tuple(equation.outputs[k] for k in likes)  # read for their shapes, which every iteration keeps
    builder.append(Equation("loop", (*bounds, *seeds, *sums, *finals, *invariants, *shapes, *stack), results, params, equation.location))
    for target, gradient in zip(targets, results):
        if isinstance(target, Value) and target.id in needed:
            _accumulate(adjoints, target, gradient, builder, equation, True)


def _body_backward(body: Graph, carried: int, positions: list[int], wanted: list[int]) -> tuple[Graph, Graph | None, tuple[int, ...], tuple[int, ...]]:
    """The backward body ``(i, *grad_carried, *sums, *next, *invariants, *shapes, *popped) ->
    (*grad_carried, *sums, *next)`` (adjoints of the carried values at ``positions``, a set
    closed under the body's dependencies), the graph recording what it pops (see
    recording.py; None: nothing), the positions of the carried values whose final values it
    reads for their shapes (``shapes``), and the carried values it is handed instead of
    recomputing them (``next``, see ``_hand_next_values``)."""
    from gradgen.passes.dce import eliminate_dead_code
    from gradgen.recording import record_what_is_read

    index, carried_inputs, invariant_inputs = body.inputs[0], body.inputs[1 : 1 + carried], body.inputs[1 + carried :]
    builder = GraphBuilder(first_id=next_id(body))
    # A carried value keeps one kind over the iterations, and so does its adjoint.
    gradients_in = tuple(builder.new_value("", carried_inputs[k].scalar) for k in positions)
    sums_in = tuple(builder.new_value("", invariant_inputs[m].scalar) for m in wanted)
    for equation in body.equations:
        builder.append(dataclasses.replace(equation, forward=False))  # the forward loop already raised
    adjoints: dict[int, Atom] = {}
    differentiated_outputs = tuple(body.outputs[k] for k in positions)
    for output, gradient in zip(differentiated_outputs, gradients_in):
        if isinstance(output, Value):
            previous = adjoints.get(output.id)
            adjoints[output.id] = gradient if previous is None else builder.add("add", (previous, gradient))
    wrt_values = (*(carried_inputs[k] for k in positions), *(invariant_inputs[m] for m in wanted))
    _reverse(body.equations, adjoints, _on_path(body, wrt_values, differentiated_outputs), builder)
    gradients = tuple(_final_gradient(adjoints, carried_inputs[k], builder) for k in positions)
    sums = tuple(
        builder.add("add", (total, adjoints[invariant_inputs[m].id])) if invariant_inputs[m].id in adjoints else total
        for total, m in zip(sums_in, wanted)
    )
    inputs = (index, *gradients_in, *sums_in, *invariant_inputs, *carried_inputs)
    graph = eliminate_dead_code(Graph(inputs, tuple(builder.equations), gradients + sums))
    graph, handed = _hand_next_values(graph, body, carried_inputs, 1 + len(gradients_in) + len(sums_in), builder)
    recording = record_what_is_read(body, carried, graph)
    return recording.backward, recording.record, recording.likes, handed


def _hand_next_values(graph: Graph, body: Graph, carried_inputs: tuple[Value, ...], position: int, builder: GraphBuilder) -> tuple[Graph, tuple[int, ...]]:
    """Where the backward body recomputes a carried value the forward body returns (``h_1 =
    tanh(W @ h + ...)``) and pops that carried value anyway, take the recomputed value from the
    iteration after instead: it is what that iteration popped (the forward's final value for the
    last one). The backward loop carries it along (``next``, inserted at ``position`` of the
    inputs), and what only served to recompute it is dropped. The stack holds no more than before."""
    from gradgen.passes.dce import eliminate_dead_code
    from gradgen.passes.substitution import substitute, substitute_inputs

    read = uses(graph)
    computed = {v.id for equation in body.equations for v in equation.outputs}
    handed: list[int] = []
    for k, (value, output) in enumerate(zip(carried_inputs, body.outputs)):
        if value.id in read and isinstance(output, Value) and output.id in computed and output.id in read:
            if all(body.outputs[j] != output for j in handed):
                handed.append(k)
    if not handed:
        return graph, ()
    nexts = tuple(builder.new_value(carried_inputs[k].name, carried_inputs[k].scalar) for k in handed)
    replacements: dict[int, Atom] = {body.outputs[k].id: next_value for k, next_value in zip(handed, nexts)}  # type: ignore[union-attr]
    equations = tuple(substitute_inputs(equation, replacements) for equation in graph.equations)
    outputs = tuple(substitute(atom, replacements) for atom in graph.outputs) + tuple(carried_inputs[k] for k in handed)
    inputs = graph.inputs[:position] + nexts + graph.inputs[position:]
    return eliminate_dead_code(Graph(inputs, equations, outputs)), tuple(handed)


def _zero(value: Atom, builder: GraphBuilder) -> Atom:
    if is_scalar(value):
        return Constant(0.0)
    return builder.add("zeros_like", (value,))


def _on_path(graph: Graph, wrt: tuple[Value, ...], outputs: tuple[Atom, ...]) -> set[int]:
    """Ids of values that depend on a wrt input and that one of ``outputs`` depends on."""
    depends_on_wrt = {v.id for v in wrt}
    output_depends = {a.id for a in outputs if isinstance(a, Value)}
    if not output_depends:
        return set()
    links = [(equation, _links(equation)) for equation in graph.equations]
    for equation, link in links:
        for output, inputs in zip(equation.outputs, link):
            if any(isinstance(a, Value) and a.id in depends_on_wrt for a in inputs):
                depends_on_wrt.add(output.id)
    for equation, link in reversed(links):
        for output, inputs in zip(equation.outputs, link):
            if output.id in output_depends:
                output_depends.update(a.id for a in inputs if isinstance(a, Value))
    return depends_on_wrt & output_depends


def _links(equation: Equation) -> list[tuple[Atom, ...]]:
    """For each output of ``equation``, the inputs it depends on differentiably (a cond's and a
    loop's, through their sub-graphs; an op without a rule, like a comparison, on none)."""
    if equation.op in ("loop", "while"):
        layout = loop_layout(equation)
        initial, invariants = layout.initial(equation), layout.invariants(equation)
        links = [tuple(initial[k] for k in sorted(c)) + tuple(invariants[m] for m in sorted(i)) for c, i in loop_dependencies(equation)]
        return links + [()] * (len(equation.outputs) - layout.carried)
    if equation.op != "cond":
        return [equation.inputs] * len(equation.outputs) if ops.OPS[equation.op].rule is not None else [()] * len(equation.outputs)
    return [tuple(equation.inputs[p] for p in sorted(positions)) for positions in cond_dependencies(equation)]


def cond_dependencies(equation: Equation) -> list[set[int]]:
    """For each output of a cond, the positions of the inputs it depends on in either branch
    (the predicate, at position 0, is not differentiated and never listed)."""
    then, orelse = branches(equation)
    return [{1 + i for i in a | b} for a, b in zip(_dependencies(then), _dependencies(orelse))]


def loop_dependencies(equation: Equation) -> list[tuple[set[int], set[int]]]:
    """For each carried output of a loop, the carried values (by position) and the invariants
    whose starting values it depends on, over any number of iterations (a fixed point)."""
    layout = loop_layout(equation)
    carried = layout.carried
    direct = _dependencies(equation.param("body"))  # type: ignore[arg-type]
    reach = [({j}, set()) for j in range(carried)]
    changed = True
    while changed:
        changed = False
        for j, positions in enumerate(direct):
            values, invariants = reach[j]
            size = len(values) + len(invariants)
            for p in positions:
                if 1 <= p <= carried:
                    values |= reach[p - 1][0]
                    invariants |= reach[p - 1][1]
                elif carried < p <= carried + layout.invariant:
                    invariants.add(p - 1 - carried)
            changed |= len(values) + len(invariants) != size
    return reach


def _dependencies(graph: Graph) -> list[set[int]]:
    depends: dict[int, set[int]] = {v.id: {i} for i, v in enumerate(graph.inputs)}
    for equation, link in ((eq, _links(eq)) for eq in graph.equations):
        for output, inputs in zip(equation.outputs, link):
            depends[output.id] = set().union(*(depends.get(a.id, set()) for a in inputs if isinstance(a, Value)))
    return [depends.get(a.id, set()) if isinstance(a, Value) else set() for a in graph.outputs]


def _adjoint_name(value: Value, default: str = "") -> str:
    name = value.name or default
    return f"grad_{name}" if name else ""


def _location_of(graph: Graph, value: Value):
    for equation in graph.equations:
        if value in equation.outputs:
            return equation.location
    return None


def next_id(graph: Graph) -> int:
    """The first id not used by ``graph`` (its own scope): backward values are numbered from here."""
    ids = [v.id for v in graph.inputs]
    ids += [v.id for eq in graph.equations for v in eq.outputs]
    return max(ids, default=-1) + 1
