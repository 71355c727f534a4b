"""Optimization passes: each a pure Graph -> Graph, together run to a fixed point."""

import dataclasses

from gradgen import api, passes
from gradgen.ir import Constant, Equation, Graph, Value, verify
from gradgen.passes.cse import eliminate_common_subexpressions
from gradgen.passes.dce import eliminate_dead_code
from gradgen.passes.simplify import simplify
from tests import seed_functions as seeds

x = Value(0, "x", True)
y = Value(1, "y", True)


def graph_of(*equations, inputs=(x, y)):
    return Graph(inputs, tuple(equations), (equations[-1].output,))


def test_folding_constants():
    t = Value(2, "", True)
    graph = simplify(graph_of(Equation("mul", (Constant(2.0), Constant(3.0)), (t,))))
    assert graph.equations == () and graph.outputs == (Constant(6.0),)


def test_folding_leaves_domain_errors_for_run_time():
    t = Value(2, "", True)
    graph = graph_of(Equation("log", (Constant(-1.0),), (t,), (("lib", "math"),)))
    assert simplify(graph) == graph


def test_multiplying_by_one_is_dropped_only_when_the_type_stays_float():
    product, t = Value(2, "p", True), Value(3, "", True)
    # x is a parameter: it might be an int, and x * 1.0 is then a float: keep it.
    keep = graph_of(Equation("mul", (x, Constant(1.0)), (product,)))
    assert simplify(keep) == keep
    # x / y is a float: x / y * 1.0 -> x / y
    drop = graph_of(Equation("div", (x, y), (t,)), Equation("mul", (t, Constant(1.0)), (product,)))
    simplified = simplify(drop)
    assert [eq.op for eq in simplified.equations] == ["div"] and simplified.outputs[0].name == "p"
    # An int 1 changes no number's type, but it turns a bool array into an int array.
    integer = Value(0, "x", True, dtype="py:int")
    assert simplify(graph_of(Equation("mul", (Constant(1), integer), (product,)), inputs=(integer, y))).outputs == (integer,)
    mask = Value(0, "m", False, shape=(3,), dtype="bool")
    kept = graph_of(Equation("mul", (Constant(1), mask), (product,)), inputs=(mask, y))
    assert simplify(kept) == kept


def test_zero_times_a_value_is_kept():
    # 0 * x -> 0 would drop x's shape (and nan): the evidence a run-time output check needs.
    t = Value(2, "t", True)
    graph = graph_of(Equation("mul", (x, Constant(0.0)), (t,)))
    assert simplify(graph) == graph
    assert simplify(graph_of(Equation("mul", (Constant(0.0), Constant(3.0)), (t,)))).outputs == (Constant(0.0),)


def test_negations_cancel_through_products():
    n1, m, n2 = Value(2, "", True), Value(3, "", True), Value(4, "g", True)
    graph = graph_of(
        Equation("neg", (x,), (n1,)),
        Equation("mul", (n1, y), (m,)),
        Equation("neg", (m,), (n2,)),
    )
    optimized = passes.optimize(graph, check=True)
    assert [eq.op for eq in optimized.equations] == ["mul"]
    assert optimized.outputs[0].name == "g"  # the user's name survives the rewrite


def test_adding_a_negation_is_a_subtraction():
    n, s = Value(2, "", True), Value(3, "s", True)
    graph = passes.optimize(graph_of(Equation("neg", (y,), (n,)), Equation("add", (x, n), (s,))))
    assert [(eq.op, eq.inputs) for eq in graph.equations] == [("sub", (x, y))]


def test_cse_merges_repeats_including_swapped_operands():
    a, b, c = Value(2, "a", True), Value(3, "b", True), Value(4, "c", True)
    graph = eliminate_common_subexpressions(
        graph_of(Equation("mul", (x, y), (a,)), Equation("mul", (y, x), (b,)), Equation("add", (a, b), (c,)))
    )
    assert [eq.op for eq in graph.equations] == ["mul", "add"]
    assert graph.equations[1].inputs == (a, a)


def test_cse_keeps_max_operand_order():
    a, b = Value(2, "a", True), Value(3, "b", True)
    params = (("lib", "builtins"),)
    graph = graph_of(Equation("maximum", (x, y), (a,), params), Equation("maximum", (y, x), (b,), params))
    assert eliminate_common_subexpressions(graph) == graph


def test_cse_merges_a_value_read_under_two_names():
    # v3 = v4 = e binds one SSA value (one id) to two names: reads of it under either name
    # are one operand, so g * v3 and g * v4 are one product.
    v3, v4 = Value(2, "v3", True), Value(2, "v4", True)
    a, b, c = Value(3, "", True), Value(4, "", True), Value(5, "c", True)
    definition = Equation("add", (x, y), (v3,))
    graph = graph_of(definition, Equation("mul", (y, v3), (a,)), Equation("mul", (v4, y), (b,)), Equation("add", (a, b), (c,)))
    merged = eliminate_common_subexpressions(graph)
    assert [eq.op for eq in merged.equations] == ["add", "mul", "add"]
    assert merged.equations[-1].inputs == (a, a)


def test_dce_and_copy_propagation():
    a, b, c = Value(2, "a", True), Value(3, "b", True), Value(4, "c", True)
    graph = graph_of(Equation("mul", (x, y), (a,)), Equation("copy", (x,), (b,)), Equation("add", (b, y), (c,)))
    propagated = eliminate_common_subexpressions(graph)  # which propagates copies too
    assert [eq.op for eq in propagated.equations] == ["mul", "add"] and propagated.equations[1].inputs == (x, y)
    assert [eq.op for eq in eliminate_dead_code(propagated).equations] == ["add"]


def test_effects_survive_dce():
    seed = Value(2, "grad_L", True)
    graph = Graph((x,), (Equation("output_seed", (x,), (seed,)),), (x,))
    assert eliminate_dead_code(graph) == graph


def test_optimize_reaches_a_fixed_point():
    gradient = api.grad(seeds.neuron, wrt=(0, 1, 2, 3, 4))
    assert passes.optimize(gradient.graph) == gradient.graph
    verify(gradient.graph)


def _every_pass_every_round(graph):
    """The fixed-point loop without skipping anything: the oracle for ``passes.optimize``."""
    for _ in range(passes.MAX_ROUNDS):
        before = graph
        for run_pass in passes.PIPELINE:
            graph = run_pass(graph)
        if graph == before:
            return graph
    return graph


def test_a_pass_is_not_rerun_on_the_graph_it_left_unchanged(monkeypatch):
    # fan_out's backward: a round where only simplify changes something, then the round
    # that confirms the fixed point. There, copy propagation, CSE and DCE would be handed the
    # very graph they each just returned unchanged; optimize skips them.
    unoptimized = api.grad(seeds.fan_out, wrt=0, optimize=False).graph
    calls = []

    def counted(run_pass):
        def counting(graph):
            calls.append(run_pass.__name__)
            return run_pass(graph)
        return counting

    expected = _every_pass_every_round(unoptimized)
    monkeypatch.setattr(passes, "PIPELINE", tuple(counted(p) for p in passes.PIPELINE))
    assert _every_pass_every_round(unoptimized) == expected
    full_rounds, calls[:] = list(calls), []
    assert passes.optimize(unoptimized) == expected
    assert len(calls) < len(full_rounds)
    assert calls[-1] == "simplify" and calls[-len(passes.PIPELINE):] != full_rounds[-len(passes.PIPELINE):]


def _unoptimized_graphs():
    """Backward graphs before optimization, of every function of three test corpora that
    grad() accepts with respect to its first parameter."""
    import inspect

    from gradgen.errors import GradgenError
    from tests import control_flow_functions, sample_functions

    for module in (seeds, sample_functions, control_flow_functions):
        for name, function in vars(module).items():
            if not inspect.isfunction(function) or function.__module__ != module.__name__:
                continue
            if not inspect.signature(function).parameters:
                continue
            try:
                yield f"{module.__name__}.{name}", api.grad(function, optimize=False).graph
            except GradgenError:
                continue


def test_skipping_settled_passes_changes_no_result():
    # optimize skips a pass whose input it knows the pass leaves unchanged (its own last
    # output, or what LEAVES_SETTLED says): the plain loop must reach the very same graph.
    checked = 0
    for name, graph in _unoptimized_graphs():
        assert passes.optimize(graph) == _every_pass_every_round(graph), name
        checked += 1
    assert checked > 40


def test_the_claims_that_let_optimize_skip_passes():
    # On every intermediate graph of the plain loop: an IDEMPOTENT pass leaves its own result
    # unchanged, and a pass leaves the graphs LEAVES_SETTLED names settled.
    for name, graph in _unoptimized_graphs():
        for _ in range(passes.MAX_ROUNDS):
            before = graph
            for run_pass in passes.PIPELINE:
                result = run_pass(graph)
                if run_pass in passes.IDEMPOTENT:
                    assert run_pass(result) is result, (name, run_pass.__name__)
                if run_pass in passes.LEAVES_SETTLED:
                    for other in passes.LEAVES_SETTLED[run_pass]:
                        if other(graph) is graph:
                            assert other(result) is result, (name, other.__name__)
                graph = result
            if graph == before:
                break


def count_operations(graph):
    return sum(eq.op != "copy" for eq in graph.equations)


def test_optimized_neuron_costs_no_more_than_the_seeds_flat_code():
    # The seed's flat code: 4 ops forward + sigmoid (neg, exp, add, div) + 3 ops for
    # grad_L * (1 - L) * L + 4 products = 15 operations.
    optimized = api.grad(seeds.neuron, wrt=(0, 1, 2, 3, 4)).graph
    textbook = api.grad(seeds.neuron, wrt=(0, 1, 2, 3, 4), optimize=False).graph
    assert count_operations(optimized) <= 15
    assert count_operations(optimized) < count_operations(textbook)


# -- control flow ---------------------------------------------------------------------------


def _cond(predicate, then_op="mul", else_op="add", outputs=2):
    a, b = Value(10, "a", True), Value(11, "b", True)
    def branch(op):
        first, second = Value(12, "", True), Value(13, "", True)
        equations = (Equation(op, (a, b), (first,)), Equation("sub", (a, b), (second,)))
        return Graph((a, b), equations, (first, second)[:outputs])
    results = tuple(Value(20 + k, f"r{k}", True) for k in range(outputs))
    return Equation("cond", (predicate, x, y), results, (("then", branch(then_op)), ("else", branch(else_op)))), results


def test_dead_code_elimination_prunes_the_outputs_of_a_cond_nothing_reads():
    p = Value(3, "", False)
    cond, (first, _) = _cond(p)
    graph = eliminate_dead_code(Graph((x, y), (Equation("gt", (x, y), (p,)), cond), (first,)))
    pruned = graph.equations[1]
    assert pruned.outputs == (first,)
    assert all(len(branch.equations) == 1 for branch in (pruned.param("then"), pruned.param("else")))
    verify(graph)


def test_a_constant_predicate_inlines_the_branch_it_selects():
    cond, (first, second) = _cond(Constant(False))
    graph = passes.optimize(Graph((x, y), (cond,), (first, second)), check=True)
    assert [eq.op for eq in graph.equations] == ["add", "sub"]
    assert [a.name for a in graph.outputs] == ["r0", "r1"]  # the user's names survive


def test_constant_operands_move_into_the_branches():
    p = Value(3, "", False)
    cond, (first, _) = _cond(p)
    cond = dataclasses.replace(cond, inputs=(p, x, Constant(2.0)))
    graph = simplify(Graph((x, y), (Equation("gt", (x, y), (p,)), cond), (first,)))
    simplified = graph.equations[1]
    assert simplified.inputs == (p, x)
    assert simplified.param("then").equations[0].inputs[1] == Constant(2.0)
    verify(graph)
