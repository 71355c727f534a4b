"""Compile time grows linearly with the program: checked by counting work, not by timing.

``grad()`` on a chain of N statements and on one of 4N statements (same shape: each value feeds
the next statement and one further on) must execute at most about 4x as many Python lines and
builtin calls. A pass that rescans the graph per change, a fixed point that needs more rounds on
longer programs, or a name search that walks every earlier name would multiply that by N, and
fails here on any machine, however loaded. (Work done inside one C call, such as a long
``list.index``, is not seen; wall-clock figures live in benchmarks/.)

The cyclic garbage collector is paused while compiling: its full collections rescan every node
the compiler holds, which made wall-clock time superlinear without any extra Python work.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any, Callable

import gradgen
import gradgen.api

# Statement shapes cycled through: every op family of the generated benchmark programs.
_SHAPES = (
    "{a} * {b}",
    "math.sin({a}) + {b}",
    "{a} / (1.0 + {b} * {b})",
    "math.exp(math.tanh({a})) - {b}",
    "math.log(1.0 + {a} * {a}) * {b}",
    "math.cos({a} - {b})",
)


def chain_source(statements: int) -> str:
    """``f(x0, x1, x2, x3)`` of ``statements`` assignments, value i reading values i-1 and i-3."""
    lines = ["import math", "", "", "def f(x0, x1, x2, x3):"]
    names = ["x0", "x1", "x2", "x3"]
    for index in range(statements):
        expression = _SHAPES[index % len(_SHAPES)].format(a=names[-1], b=names[-3])
        names.append(f"v{index}")
        lines.append(f"    v{index} = {expression}")
    lines.append(f"    return {names[-1]} + {names[-2]}")
    return "\n".join(lines) + "\n"


def load_chain(directory: Path, statements: int) -> Callable[..., Any]:
    path = directory / f"chain_{statements}.py"
    path.write_text(chain_source(statements))
    spec = importlib.util.spec_from_file_location(f"_gradgen_chain_{statements}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.f


def compile_work(function: Callable[..., Any]) -> int:
    """Python lines executed plus builtin functions called while ``grad`` compiles ``function``."""
    count = 0

    def trace(frame: Any, event: str, argument: Any) -> Any:
        nonlocal count
        count += 1  # a call, or a line (each loop iteration is one more)
        return trace

    def profile(frame: Any, event: str, argument: Any) -> None:
        nonlocal count
        if event == "c_call":
            count += 1

    previous_trace, previous_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        gradgen.grad(function, wrt=(0, 1, 2, 3))
    finally:
        sys.settrace(previous_trace)
        sys.setprofile(previous_profile)
    return count


def test_compile_work_grows_linearly_with_statements(tmp_path):
    gradgen.grad(load_chain(tmp_path, 10), wrt=(0, 1, 2, 3))  # one-time work (templates), uncounted
    small, large = load_chain(tmp_path, 60), load_chain(tmp_path, 240)  # fresh: no cached parse
    ratio = compile_work(large) / compile_work(small)
    # Linear work gives a bit under 4 (fixed costs are shared); n log n would give about 5.4
    # here and quadratic 16.
    assert ratio < 4.4, f"4x the statements cost {ratio:.2f}x the work"


def test_the_chain_is_differentiated_correctly(tmp_path):
    # The counted programs are real ones: their gradient matches central differences.
    function = load_chain(tmp_path, 30)
    point = (0.3, -0.7, 1.1, 0.5)
    gradient = gradgen.grad(function, wrt=(0, 1, 2, 3))(*point)
    for index, value in enumerate(gradient):
        step = 1e-6
        plus, minus = list(point), list(point)
        plus[index] += step
        minus[index] -= step
        expected = (function(*plus) - function(*minus)) / (2 * step)
        assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-8)


def test_grad_pauses_the_garbage_collector_only_while_compiling(tmp_path, monkeypatch):
    function = load_chain(tmp_path, 5)
    seen: list[bool] = []
    optimize = gradgen.api.passes.optimize

    def recording(graph, **options):
        seen.append(gc.isenabled())
        return optimize(graph, **options)

    monkeypatch.setattr(gradgen.api.passes, "optimize", recording)
    assert gc.isenabled()
    gradgen.grad(function, wrt=(0, 1, 2, 3))
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        gradgen.grad(function, wrt=0)
        assert not gc.isenabled()  # a caller's own choice is left as it was
    finally:
        gc.enable()


def test_the_collector_comes_back_after_an_error(tmp_path):
    path = tmp_path / "bad_chain.py"
    path.write_text("def f(x):\n    try:\n        y = x\n    finally:\n        pass\n    return y\n")
    spec = importlib.util.spec_from_file_location("_gradgen_bad_chain", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    try:
        gradgen.grad(module.f)
    except gradgen.GradgenError:
        pass
    else:
        raise AssertionError("try statements are unsupported: grad() should raise")
    assert gc.isenabled()


def test_the_first_calls_shape_specialization_also_compiles_with_the_collector_paused(monkeypatch):
    import numpy as np

    from tests import seed_functions

    seen: list[bool] = []
    optimize = gradgen.passes.optimize

    def recording(graph, **options):
        seen.append(gc.isenabled())
        return optimize(graph, **options)

    gradient = gradgen.grad(seed_functions.array_add, wrt=0)
    monkeypatch.setattr(gradgen.passes, "optimize", recording)
    gradient(np.ones(3), np.ones(3))  # the first call with these shapes specializes
    assert seen and not any(seen)
    assert gc.isenabled()


def test_compiling_leaves_no_cycles_for_the_collector(tmp_path):
    # Garbage in reference cycles outlives the paused collector: the first collection after
    # grad() then scans all of it. A cycle holding the emitted syntax tree (an object keeping
    # bound methods of itself, with the tree) would leave ~45 objects per statement, and cost
    # a tenth of a 3000-statement grad(). A handful of small cycles (recursive closures) is
    # expected.
    function = load_chain(tmp_path, 200)
    gradgen.grad(function, wrt=(0, 1, 2, 3))  # one-time work (templates, caches)
    gc.collect()
    gc.disable()
    try:
        # kept: a guarded gradient and its lazy fallback refer to each other (not compile garbage)
        gradient = gradgen.grad(function, wrt=(0, 1, 2, 3))
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage < 50, f"grad() left {garbage} objects in reference cycles"
    assert gradient.source


def test_the_emitted_module_is_unparsed_once_and_nothing_else(tmp_path, monkeypatch):
    # ast.unparse costs ~40 us a statement: spelling every assignment with it too (as a hint
    # for an error almost never shown) was a twentieth of grad(). It spells the emitted module
    # and the small fixed module of the dispatcher in front of code that may be called with
    # arrays (compiled.py), each once.
    import ast

    function = load_chain(tmp_path, 50)
    calls = []
    unparse = ast.unparse

    def counted(node: Any) -> str:
        calls.append(type(node).__name__)
        return unparse(node)

    monkeypatch.setattr(ast, "unparse", counted)
    gradgen.grad(function, wrt=(0, 1, 2, 3))
    assert calls == ["Module", "Module"]


def test_renaming_one_value_visits_only_the_equations_that_mention_it(tmp_path):
    # A pass that merges a named value into a temporary renames it; a rename that applied its
    # fix to every atom of a large graph, once per pass, was a sixth of grad().
    from gradgen.ir import Value, map_values

    graph = gradgen.grad(load_chain(tmp_path, 100), wrt=(0, 1, 2, 3)).graph
    target = graph.equations[-1].outputs[0]
    seen = []

    def fix(atom: Any) -> Any:
        seen.append(atom)
        return Value(atom.id, "renamed", atom.scalar) if isinstance(atom, Value) and atom.id == target.id else atom

    renamed = map_values(graph, fix, only={target.id})
    mentioning = [eq for eq in graph.equations if any(isinstance(a, Value) and a.id == target.id for a in (*eq.inputs, *eq.outputs))]
    atoms = sum(len(eq.inputs) + len(eq.outputs) for eq in mentioning) + len(graph.inputs) + len(graph.outputs)
    assert len(seen) == atoms < len(graph.equations)
    assert renamed.equations[-1].outputs[0].name == "renamed"
