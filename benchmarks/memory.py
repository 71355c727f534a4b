"""Memory of a gradient call through a long loop, against what its backward needs (the
report's section ``loop_memory``).

The backward of ``h = tanh(W @ h + U @ x[t] + b)`` needs every hidden state: T vectors of
``hidden`` float64, ``T * hidden * 8`` bytes. gradgen's forward loop records, on its stack, only
what its backward loop reads of the carried values (here ``h``), and recomputes the rest of each step;
the hand-written BPTT keeps the same list; autograd's tape keeps every intermediate of every
step. ``measure(peer, workload)`` is the tracemalloc peak of one gradient call (after a warm-up
call, so compiling and caches are not counted), which sees numpy's buffers and Python objects,
not the allocators of JAX (XLA) or PyTorch.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

import gradgen
import peers
from gradgen import stamping
from gradgen.ir import Graph, Value, loop_layout
from tables import table
from workloads import Workload, rnn_workload

TRACED = ("hand", "gradgen", "autograd")  # systems whose arrays tracemalloc sees


def peak_bytes(peer: str, workload: Workload) -> int:
    """The tracemalloc peak of one gradient call (its result included)."""
    call = peers.prepare(peer, workload).call
    call()  # warm-up: gradgen's specialization for these shapes, import-time caches
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def needed_bytes(workload: Workload) -> int:
    """What the backward must keep: every hidden state, ``T * hidden`` float64."""
    xs, h0 = dict(workload.point)["xs"], dict(workload.point)["h0"]
    return xs.shape[0] * h0.nbytes


def recorded_bytes(workload: Workload) -> int:
    """The array bytes gradgen's forward loops push on their stacks, one entry per iteration,
    from the shapes of the values they record (the list and array headers not counted)."""
    backward = gradgen.grad(workload.make(np), wrt=workload.wrt)
    graph = stamping.stamp_shapes(backward.graph, workload.args)
    steps = dict(workload.point)["xs"].shape[0]
    return steps * sum(_bytes_per_iteration(loop_layout(eq).record) for eq in graph.equations if eq.op == "loop")


def _bytes_per_iteration(record: Graph | None) -> int:
    """The bytes of what one iteration pushes: the outputs of the loop's record graph."""
    total = 0
    for atom in record.outputs if record is not None else ():
        shape, dtype = (atom.shape, atom.dtype) if isinstance(atom, Value) else (None, None)
        if shape is None or dtype is None or dtype.startswith("py:"):
            total += 8  # a number (or an unknown shape, counted as one)
        else:
            total += math.prod(shape) * np.dtype(dtype).itemsize
    return total


def loop_memory(config: Any, notes: list[str], directory: Path) -> str:
    """The report's section: the RNN at 100 and 1000 steps, each system's peak per step."""
    lengths = (100, 1000)
    cases = [rnn_workload(steps) for steps in lengths]
    needed = [needed_bytes(w) for w in cases]
    recorded = recorded_bytes(cases[-1])
    body = [["values the backward needs (T hidden states)", *(_kilobytes(n) for n in needed), _per_step(needed, lengths)]]
    body.append(["gradgen's recorded stack (array bytes)", "-", _kilobytes(recorded), f"{recorded / lengths[-1]:.0f} B"])
    for peer in (*TRACED, "jax grad", "torch"):
        if peer not in TRACED:
            body.append([f"{peer} (allocator not traced)", "-", "-", "-"])
            continue
        try:
            peaks = [peak_bytes(peer, w) for w in cases]
        except peers.Unavailable:
            body.append([peer, "-", "-", "-"])
            continue
        body.append([f"{peer}: peak of one gradient call", *(_kilobytes(p) for p in peaks), _per_step(peaks, lengths)])
    return "\n\n".join(
        [
            "## Memory of a long loop",
            "The RNN above with T = 100 and T = 1000 steps. The backward needs every hidden state, T x 64 float64 "
            "(512 B a step). Peak: tracemalloc's peak during one gradient call, after a warm-up call (numpy buffers "
            "and Python objects: a 64-float array is 512 B of data plus its header; the gradients it returns are "
            "included). Per step: (peak at T=1000 - peak at T=100) / 900, which the fixed costs cancel out of. "
            "JAX and PyTorch allocate outside tracemalloc's view and are not measured.",
            table(["", "T = 100", "T = 1000", "per step"], body),
        ]
    )


def _kilobytes(count: int) -> str:
    return f"{count / 1024:,.0f} KiB"


def _per_step(counts: list[int], lengths: tuple[int, ...]) -> str:
    return f"{(counts[-1] - counts[0]) / (lengths[-1] - lengths[0]):,.0f} B"
