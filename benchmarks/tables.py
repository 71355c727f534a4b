"""The report's markdown: a row of cells per workload, times, ratios and build costs."""

from __future__ import annotations

from dataclasses import dataclass, field

import peers
from workloads import Workload


@dataclass
class Cell:
    seconds: float | None = None
    status: str = ""  # "" (timed), "-" (peer missing), "n/a", "WRONG", "FAIL", "timeout"
    faults: float | None = None  # minor page faults per call (fresh memory touched), when measured


@dataclass
class Row:
    workload: Workload
    cells: dict[str, Cell] = field(default_factory=dict)
    builds: dict[str, float] = field(default_factory=dict)  # peer -> seconds to build
    ops: dict[str, int] = field(default_factory=dict)  # peer -> size of its gradient code
    first_calls: dict[str, float] = field(default_factory=dict)  # peer -> seconds of first call

    @property
    def baseline(self) -> str:
        return "hand" if self.cells["hand"].seconds else "gradgen"


def microseconds(seconds: float) -> str:
    us = seconds * 1e6
    if us < 10:
        return f"{us:.2f} µs"
    if us < 100:
        return f"{us:.1f} µs"
    return f"{us:,.0f} µs"


def ratio(value: float) -> str:
    if value < 10:
        return f"{value:.2f}x"
    return f"{value:.1f}x" if value < 100 else f"{value:,.0f}x"


def milliseconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def cell_text(row: Row, peer: str) -> str:
    cell = row.cells[peer]
    if cell.seconds is None:
        return cell.status
    base = row.cells[row.baseline].seconds
    if base is None:
        return microseconds(cell.seconds)
    return f"{microseconds(cell.seconds)} ({ratio(cell.seconds / base)})"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def timing_table(rows: list[Row]) -> str:
    return table(["workload", *peers.PEERS], [[r.workload.name, *(cell_text(r, p) for p in peers.PEERS)] for r in rows])


def faults_table(rows: list[tuple[str, Row]]) -> str:
    """Minor page faults per gradient call (pages of fresh memory the call touched), one line per
    (setting, row)."""

    def text(cell: Cell) -> str:
        return cell.status if cell.faults is None else f"{cell.faults:,.0f}"

    body = [[f"{r.workload.name}, {setting}", *(text(r.cells[p]) for p in peers.PEERS)] for setting, r in rows]
    return table(["workload", *peers.PEERS], body)


def _ops(row: Row, peer: str) -> str:
    return str(row.ops[peer]) if peer in row.ops else "-"


def _status_or_ms(row: Row, peer: str) -> str:
    status = row.cells[peer].status
    if status in ("-", "n/a"):
        return status
    if status == "timeout":
        return f"> {row.builds[peer]:.0f} s (timeout)"
    return milliseconds(row.builds.get(peer))


def build_table(rows: list[Row], arrays: bool = False) -> str:
    header = ["workload", "gradgen grad()", "gradgen emitted ops"]
    if arrays:
        header.append("gradgen first call (shape specialization)")
    header += ["jax jit(grad) trace+compile"]
    if not arrays:
        header += ["sympy diff+lambdify", "sympy ops (cse)"]
    body = []
    for r in rows:
        line = [r.workload.name, milliseconds(r.builds.get("gradgen")), _ops(r, "gradgen")]
        if arrays:
            line.append(milliseconds(r.first_calls.get("gradgen")))
        line.append(_status_or_ms(r, "jax jit(grad)"))
        if not arrays:
            line += [_status_or_ms(r, "sympy"), _ops(r, "sympy")]
        body.append(line)
    return table(header, body)
