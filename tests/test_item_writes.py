"""Item writes ``H[key] = v`` / ``H[key] += v`` into arrays the function created.

Gradients are checked against central finite differences and hand-derived formulas; the
emitted code is checked to write in place (no copy of ``H`` per step of an RNN) and the
backward stack not to hold a copy of ``H`` per step. Refusals (writes into arguments, through
views, stale views) are in tests/bad_functions.py and tests/test_errors.py.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any, Callable

import numpy as np
import pytest

import gradgen
from tests import item_write_functions as fn
from tests.test_numpy_ops import central_differences

rng = np.random.default_rng(11)


def _normal(*shape: int) -> np.ndarray:
    return rng.normal(size=shape)


CASES: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("single-write", fn.single_write, (_normal(3), _normal(3))),
    ("slice-writes", fn.slice_writes, (_normal(4), _normal(3, 4))),
    ("column-accumulation", fn.column_accumulation, (_normal(3) + 2.0, _normal(3))),
    ("rnn-rows", fn.rnn_rows, (_normal(5, 2), 0.5 * _normal(3, 3), _normal(3, 2))),
    ("rnn-reading-previous-row", fn.rnn_reading_previous_row, (_normal(4, 3), 0.5 * _normal(3, 3))),
    ("leaky-elements", fn.leaky_recurrence, (_normal(6), 0.7)),
    ("leaky-rows", fn.leaky_recurrence, (_normal(5, 3), _normal(3))),
    ("prefix-sums", fn.prefix_sums, (_normal(6),)),
    ("column-recurrence", fn.column_recurrence, (_normal(3, 5), _normal(3))),
    ("branch-reads-row", fn.branch_reads_row, (_normal(5, 3), _normal(3))),
    ("row-rewritten-every-step", fn.row_rewritten_every_step, (0.5 * _normal(4) + 1.0, _normal(3))),
    ("rows-from-a-while", fn.rows_from_a_while, (_normal(4, 3), 0.5 * _normal(3, 3))),
    ("accumulate-in-loop", fn.accumulate_in_loop, (_normal(3), _normal(3))),
    ("nested-loops", fn.nested_loops, (_normal(3, 4), _normal(3, 4))),
    ("while-writes", fn.while_writes, (_normal(4), _normal(4))),
    ("branch-then", fn.branch_writes, (np.array([0.5, 1.5, -0.7, 2.0]), _normal(4))),
    ("branch-else", fn.branch_writes, (np.array([0.5, -1.5, -0.7, 2.0]), _normal(4))),
    ("view-read-by-the-backward", fn.view_read_by_the_backward, (_normal(3), _normal(3))),
    ("helper-makes-the-array", fn.helper_makes_the_array, (_normal(3), _normal(3))),
    ("tuple-of-targets", fn.tuple_of_targets, (_normal(3), _normal(3))),
    ("copy-of-argument", fn.copy_of_argument, (_normal(3), _normal(3))),
    ("repeated-positions", fn.repeated_positions, (_normal(4), _normal(2, 2))),
]
IDS = [case_id for case_id, _, _ in CASES]


def _wrt(point: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(range(len(point)))


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
@pytest.mark.parametrize("case_id, function, point", CASES, ids=IDS)
def test_gradients_match_central_differences(case_id: str, function: Callable[..., Any], point: tuple[Any, ...], optimize: bool) -> None:
    gradients = gradgen.grad(function, wrt=_wrt(point), optimize=optimize)(*point)
    for index, gradient in enumerate(gradients):
        expected = central_differences(function, point, index)
        np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6, err_msg=f"{case_id}: d/d argument {index}")


@pytest.mark.parametrize("case_id, function, point", CASES, ids=IDS)
def test_specialized_generic_and_unoptimized_code_agree(case_id: str, function: Callable[..., Any], point: tuple[Any, ...]) -> None:
    gradient = gradgen.grad(function, wrt=_wrt(point))
    specialized = gradient(*point)
    generic = gradient.generic(*point)
    unoptimized = gradgen.grad(function, wrt=_wrt(point), optimize=False)(*point)
    for a, b, c in zip(specialized, generic, unoptimized):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case_id, function, point", CASES, ids=IDS)
def test_value_and_grad_value_is_the_python_forward(case_id: str, function: Callable[..., Any], point: tuple[Any, ...]) -> None:
    value, _ = gradgen.value_and_grad(function, wrt=0)(*point)
    assert value == pytest.approx(function(*point), rel=1e-12)


def test_a_write_gets_the_gradient_of_its_slot_and_the_old_value_none():
    # H[0] = x; H[1:, ::2] = 2 x[1:3]; H[2, 1:] = x[0] (overwrites H[2, 2] = 2 x[2])
    x, w = _normal(4), _normal(3, 4)
    gradient = gradgen.grad(fn.slice_writes)(x, w)
    expected = w[0].copy()
    expected[0] += w[2, 1] + w[2, 2] + w[2, 3]
    expected[1] += 2.0 * (w[1, 0] + w[2, 0])
    expected[2] += 2.0 * w[1, 2]
    np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_a_single_write_by_hand():
    x, w = _normal(3), _normal(3)
    np.testing.assert_allclose(gradgen.grad(fn.single_write)(x, w), [x[1] * w[1], x[0] * w[1], 0.0], rtol=1e-12)


def test_vjp_of_a_written_array_leaves_the_cotangent_alone():
    x, cotangent = _normal(3), _normal(2, 3)
    kept = cotangent.copy()
    gradient = gradgen.vjp(fn.written_output)(x, cotangent)
    expected = kept[0] + np.array([kept[1, 1] * x[2], 0.0, kept[1, 1] * x[0]])
    np.testing.assert_allclose(gradient, expected, rtol=1e-12)
    np.testing.assert_array_equal(cotangent, kept)


def _code(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if not line.strip().startswith("#")]


def test_the_rnn_writes_its_rows_in_place_forward_and_backward():
    gradient = gradgen.grad(fn.rnn_rows, wrt=(1, 2))
    point = (_normal(6, 2), _normal(3, 3), _normal(3, 2))
    for source in (gradient.source, gradient.source_for(*point)):
        lines = _code(source)
        assert "H[t] = h" in lines  # the forward row write, in place
        assert "grad_H[t] = 0.0" in lines  # its backward: the row's adjoint zeroed in place
        assert "runtime.index_set" not in source  # no copy of H anywhere
        assert "stack.append(h)" in lines  # the stack records h only, not H


def test_the_rnns_specialized_loop_body_knows_its_shapes_through_the_row_writes():
    # The row adjoint grad_H[t] at a run-time t has a known shape, and so has everything after it:
    # the products' gradients are plain numpy, not run-time helpers.
    gradient = gradgen.grad(fn.rnn_rows, wrt=(1, 2))
    point = (_normal(6, 2), 0.5 * _normal(3, 3), _normal(3, 2))
    specialized = gradient.source_for(*point)
    assert "runtime.matmul_vjp" not in specialized and "runtime.unbroadcast" not in specialized, specialized
    for got, want in zip(gradient(*point), (central_differences(fn.rnn_rows, point, i) for i in (1, 2))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_straight_line_writes_are_in_place_where_nothing_reads_the_old_array():
    lines = _code(gradgen.grad(fn.column_accumulation).source)
    for written in ("H[:, 1] = ", "H[:, 0] = ", "H[1] = ", "H[2] = ", "grad_H[1] = 0.0", "grad_H[2] = 0.0"):
        assert any(line.startswith(written) for line in lines), written
    assert not any("index_set" in line for line in lines)


def test_a_view_the_backward_reads_after_a_write_is_made_as_a_copy():
    # r = H[0:2] is read by the backward of r * r after H[1] = s: writing into H in place would
    # change it, so r is a copy of its two elements (cheaper than a copy of H at the write)
    lines = _code(gradgen.grad(fn.view_read_by_the_backward).source)
    assert "r = H[0:2].copy()" in lines and "H[1] = s" in lines


def test_a_row_updated_by_multiplication_keeps_its_old_value_for_the_backward():
    lines = _code(gradgen.grad(fn.column_accumulation).source)
    # H[1] *= x[1]: the backward of * reads the old row, so the row is copied, not H
    copied = [line.split(" = ")[0] for line in lines if line.endswith(" = H[1].copy()")]
    assert len(copied) == 1
    assert any(line.startswith("H[1] = ") for line in lines)
    assert any(copied[0] in line and line.startswith("grad_") for line in lines)  # read by the backward


def test_a_loop_that_reads_the_previous_row_records_the_row_and_writes_in_place():
    # The backward reads H[t] and H's shape: the stack holds a copy of the row (a view would
    # show the later writes), H's shape comes from the H the loop leaves, and H is written in place.
    gradient = gradgen.grad(fn.rnn_reading_previous_row, wrt=(0, 1))
    point = (_normal(4, 3), 0.5 * _normal(3, 3))
    for source in (gradient.source, gradient.source_for(*point)):
        lines = _code(source)
        assert "H[t + 1] = np.tanh(W @ H[t] + x[t])" in lines or "H[t + 1] = np.tanh(W.dot(H[t]) + x[t])" in lines
        pushes = [line for line in lines if ".append(" in line]
        assert pushes == ["stack.append(H[t].copy())"], pushes
        assert "runtime.index_set" not in source and "stack.append(H)" not in source


def test_a_loop_reading_elements_records_one_number_per_step():
    lines = _code(gradgen.grad(fn.leaky_recurrence, wrt=(0, 1)).source)
    assert [line for line in lines if ".append(" in line] == ["stack.append(H[t - 1].copy())"]
    assert any(line.startswith("H[t] = ") for line in lines)


def test_the_stack_carries_the_facts_of_the_rows_it_records():
    from gradgen.stamping import stamp_shapes

    graph = gradgen.grad(fn.leaky_recurrence, wrt=(0, 1)).graph
    stamped = stamp_shapes(graph, [np.ones((5, 3)), np.ones(3)])
    forward, backward = (eq for eq in stamped.equations if eq.op == "loop")
    assert [v.shape for v in forward.param("record").outputs] == [(3,)]  # a row of H, not H (5 x 3)
    assert backward.param("body").inputs[-1].shape == (3,)


def test_a_row_read_then_overwritten_at_every_step_is_recorded_as_it_was():
    # H[0] and H[1] are recorded at the start of each step; the loop then writes both in place
    gradient = gradgen.grad(fn.row_rewritten_every_step, wrt=(0, 1))
    lines = _code(gradient.source)
    assert [line for line in lines if ".append(" in line] == ["stack.append((H[0].copy(), H[1].copy()))"]
    assert "runtime.index_set" not in gradient.source


def _peak_bytes(gradient: Callable[..., Any], *args: Any) -> int:
    gradient(*args)  # compile the specialization first
    tracemalloc.start()
    try:
        gradient(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_memory_of_an_rnn_gradient_grows_linearly_with_the_steps():
    n = 64
    W, U = 0.1 * _normal(n, n), _normal(n, 2)
    rows = gradgen.grad(fn.rnn_rows, wrt=1)
    few, many = (_peak_bytes(rows, _normal(steps, 2), W, U) for steps in (25, 100))
    assert many / few < 8, f"peak {few} bytes for 25 steps, {many} for 100"  # quadratic: ~16


@pytest.mark.parametrize("function", [fn.rnn_reading_previous_row, fn.leaky_recurrence, fn.rows_from_a_while], ids=["tanh-rows", "leaky-rows", "while"])
def test_the_memory_of_a_loop_reading_earlier_rows_grows_linearly_with_the_steps(function):
    # Recording H at each step would hold T arrays of T rows: the peak would grow 16 times from
    # 25 to 100 steps. Recording the row read grows it 4 times (plus what does not grow).
    n = 64
    second = 0.1 * _normal(n, n) if function is not fn.leaky_recurrence else 0.5 * _normal(n)
    gradient = gradgen.grad(function, wrt=(0, 1))
    few, many = (_peak_bytes(gradient, _normal(steps, n), second) for steps in (25, 100))
    assert many / few < 8, f"peak {few} bytes for 25 steps, {many} for 100"


def test_sympy_agrees_on_writes_into_created_arrays():
    # gradgen.check runs the function on symbols: the arrays it creates hold symbols too
    report = gradgen.check(fn.slice_writes, np.array([0.3, 0.5, 0.7, 0.1]), np.arange(12.0).reshape(3, 4))
    assert report.ok, str(report)
    assert gradgen.check(fn.column_accumulation, np.array([2.5, 1.5, 3.0]), np.array([0.2, -0.4, 0.6])).ok


# -- random programs of writes: finite differences and optimize=False as oracles -------------

_KEYS = {  # key -> values that fit its slot (scalars fit every slot)
    "0": ["x", "x * H[1]"],
    "-1": ["np.tanh(x)", "H[0] * x[1]"],
    ":, 1": ["x[:3]", "H[:, 2] * x[0]"],
    "1:, ::2": ["x[1:3] * x[0]", "H[:2, 1:3]"],
    "2, 3": [],
    "1:3, 2": ["x[2:]"],
    "[0, 2, 0]": ["x", "H[[1, 1, 2]] * x[0]"],
    "[2, 0, 2], 1": ["x[:3]"],
}
_SCALARS = ["x[0]", "np.sin(x[1])", "x[2] * x[3]", "np.sum(x)", "H[0, 1] * x[0]", "1.5", "np.sin(np.sum(H[1] * x))", "np.tanh(np.sum(H[:, 1:3] ** 2))"]


def _random_statement(choose: np.random.Generator) -> list[str]:
    key = str(choose.choice(list(_KEYS)))
    value = str(choose.choice(_KEYS[key] + _SCALARS))
    kind = choose.integers(8)
    if kind == 0:
        return [f"H[{key}] = {value}"]
    if kind in (1, 2):
        return [f"H[{key}] {'+=' if kind == 1 else '-='} {value}"]
    if kind == 3:
        return [f"H[{key}] *= {value}"]
    if kind == 4 and choose.integers(2):  # each step reads a row an earlier step wrote
        return ["for i in range(1, 3):", f"    H[i] = np.sin(H[i - 1] * x[{choose.integers(4)}]) + H[i] * x[{choose.integers(4)}]"]
    if kind == 4:
        return ["for i in range(3):", f"    H[i, {choose.integers(4)}] += x[{choose.integers(4)}] * H[i, {choose.integers(4)}]"]
    if kind == 5:
        return ["H = np.tanh(H) * x[1]"]
    if kind == 6:
        return ["j = 0", "while j < 3:", f"    H[j, j:] *= {choose.choice(_SCALARS)}", "    j = j + 1"]
    return ["if x[0] > 0:", f"    H[{key}] = {value}", "else:", f"    H[{key}] -= {value}"]


def _random_program(seed: int) -> str:
    choose = np.random.default_rng(seed)
    start = str(choose.choice(["np.zeros((3, 4))", "np.ones((3, 4))", "x * w"]))
    lines = ["import numpy as np", "", "", "def forward(x, w):", f"    H = {start}"]
    for _ in range(int(choose.integers(2, 6))):
        lines += ["    " + line for line in _random_statement(choose)]
    lines.append("    return np.sum(H * w) + 0.1 * np.sum(H * H)")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(int(os.environ.get("GRADGEN_WRITE_PROGRAMS", "40"))))
def test_random_programs_of_writes(seed: int, tmp_path, monkeypatch) -> None:
    import importlib

    source = _random_program(seed)
    (tmp_path / f"writes_{seed}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    forward = importlib.import_module(f"writes_{seed}").forward
    point = (rng.uniform(0.5, 1.0, size=4) * np.array([1.0, -1.0, 1.0, 1.0]), rng.normal(size=(3, 4)))
    gradient = gradgen.grad(forward, wrt=(0, 1))
    results = (gradient(*point), gradient.generic(*point), gradgen.grad(forward, wrt=(0, 1), optimize=False)(*point))
    for index in (0, 1):
        expected = central_differences(forward, point, index)
        scale = max(1.0, float(np.max(np.abs(expected))))
        for result in results:
            np.testing.assert_allclose(result[index], expected, rtol=1e-5, atol=1e-6 * scale, err_msg=source)


def test_a_repeated_position_keeps_the_last_value_as_numpy_does():
    # H[[0, 0]] += v is H[0] = H[0] + v[1]: v[0] gets no gradient, v[1] gets dL/dH[0] = 2 H[0]
    x, v = _normal(4), _normal(2, 2)
    grad_v = gradgen.grad(fn.repeated_positions, wrt=1)(x, v)
    final_row = x[0] + v[1]
    np.testing.assert_allclose(grad_v, [[0.0, 0.0], 2.0 * final_row], rtol=1e-12)


@pytest.mark.parametrize("case_id, function, point", CASES, ids=IDS)
def test_the_in_place_marking_keeps_the_graph_valid(case_id: str, function: Callable[..., Any], point: tuple[Any, ...]) -> None:
    from gradgen.ir import verify
    from gradgen.passes.in_place import mark_in_place

    gradient = gradgen.grad(function, wrt=_wrt(point))
    verify(mark_in_place(gradient.graph))
