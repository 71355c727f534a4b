"""Time one gradient evaluation: gradgen's emitted code vs the hand-written backward vs peers.

    python benchmarks/run.py            # full run, writes benchmarks/RESULTS.md (~10 min, 2 cores)
    python benchmarks/run.py --quick    # smoke run: few repeats, no 3000-statement program
    python benchmarks/run.py --threads 2  # threads per library (default 1)
    python benchmarks/run.py --only rnn,memory  # just these sections (seed, generated, growth, rnn, memory)

Every system differentiates the same forward source (a factory over a math namespace, see
workloads.py); each peer's gradient is checked against the reference (the hand-written
backward, else autograd) before it is timed, and reported as WRONG instead if it disagrees.
Times are medians of timeit-style repeats with an adaptive loop count, repeats interleaved
across the systems of a workload. Ratios are to the hand-written code (to gradgen where there
is none). A peer that is not installed shows as "-".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The BLAS, OpenMP and XLA thread pools are sized when numpy, torch and jax load, so the thread
# count is read from the command line before they are imported. One thread per library by
# default: with several, their spinning pools fight over the cores and the times swing by 10x.
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--threads", type=int, default=1)
THREADS = _early.parse_known_args()[0].threads
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(THREADS)
if THREADS == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
# XLA's CPU runtime keeps a second thread busy whatever its flags say (jit(grad) on the MLP used
# 1.65 cores with them), so the process and its workers are pinned to THREADS cores: then every
# system gets the same cores, whichever thread pools it starts.
USABLE = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
PINNED = USABLE[:THREADS] if hasattr(os, "sched_setaffinity") else []
if PINNED:
    os.sched_setaffinity(0, PINNED)

import generated  # noqa: E402  (after the thread settings)
import numpy as np  # noqa: E402

import gradgen  # noqa: E402
import memory  # noqa: E402
import peers  # noqa: E402
from tables import Cell, Row, build_table, faults_table, microseconds, milliseconds, ratio, table, timing_table  # noqa: E402
import timing  # noqa: E402
import workloads  # noqa: E402

HERE = Path(__file__).resolve().parent
REFERENCE_ORDER = ("hand", "autograd", "jax grad", "torch", "jax jit(grad)", "sympy")
SLOW_THRESHOLD = 1.05  # gradgen slower than the hand-written code by more than 5% is reported


@dataclass(frozen=True)
class Config:
    settings: timing.Settings
    quick: bool
    timeout: float  # seconds for a peer run in a subprocess (sympy, jit on generated programs)


def run_workload(workload: workloads.Workload, config: Config, notes: list[str], isolated: dict[str, Path] | None = None, skip: tuple[str, ...] = ()) -> Row:
    """Build every peer, check its gradient against the reference, then time them interleaved.

    Peers in ``isolated`` run in a subprocess on the generated program at that path (timeout).
    """
    isolated = isolated or {}
    row = Row(workload)
    prepared: dict[str, peers.Prepared] = {}
    for peer in peers.PEERS:
        if peer in skip:
            row.cells[peer] = Cell(status="n/a")
        elif peer not in isolated:
            try:
                prepared[peer] = peers.prepare(peer, workload)
            except peers.Unavailable:
                row.cells[peer] = Cell(status="-")
            except peers.NotApplicable:
                row.cells[peer] = Cell(status="n/a")
            except Exception as error:  # a failure to build is a result, not a crash
                row.cells[peer] = Cell(status="FAIL")
                notes.append(f"{workload.name}: {peer} failed to build: {_describe(error)}")
    results: dict[str, Any] = {}
    for peer, ready in prepared.items():
        if ready.build_seconds is not None:
            row.builds[peer] = ready.build_seconds
        if ready.ops is not None:
            row.ops[peer] = ready.ops
        try:
            start = time.perf_counter()
            results[peer] = ready.call()
            row.first_calls[peer] = time.perf_counter() - start
        except Exception as error:
            row.cells[peer] = Cell(status="FAIL")
            notes.append(f"{workload.name}: {peer} failed to evaluate: {_describe(error)}")
    reference_peer = next((p for p in REFERENCE_ORDER if p in results), None)
    reference = results.get(reference_peer)
    for peer, result in results.items():
        if not peers.agree(result, reference):
            row.cells[peer] = Cell(status="WRONG")
            notes.append(f"{workload.name}: {peer} disagrees with {reference_peer} ({_difference(result, reference)})")
    timed = {peer: prepared[peer].call for peer in results if peer not in row.cells}
    for peer, seconds in timing.measure_interleaved(timed, config.settings).items():
        faults = timing.page_faults_per_call(timed[peer], _fault_calls(seconds, config)) if workload.arrays else None
        row.cells[peer] = Cell(seconds, faults=faults)
    for peer, program in isolated.items():
        row.cells[peer] = _run_isolated(peer, program, workload, reference, reference_peer, config, row, notes)
    return row


def _fault_calls(seconds: float, config: Config) -> int:
    """Enough calls to count page faults over one repeat's worth of time."""
    return max(3, int(config.settings.min_time / seconds))


def fresh_processes(workload: workloads.Workload, config: Config, notes: list[str]) -> Row:
    """Each system alone in a new process: how it runs in a user's program, with an allocator
    that only its own calls have shaped (in one shared process, the systems timed before shape it
    for the ones after)."""
    row = Row(workload)
    for peer in peers.PEERS:
        report = run_worker(peer, ["--workload", workload.name], config, config.timeout)
        if "status" in report:
            if report["status"] == "FAIL":
                notes.append(f"{workload.name} (fresh process): {peer} failed: {report['error']}")
            row.cells[peer] = Cell(status=report["status"])
        elif not report["agrees"]:
            notes.append(f"{workload.name} (fresh process): {peer} disagrees with hand")
            row.cells[peer] = Cell(status="WRONG")
        else:
            row.cells[peer] = Cell(report["seconds"], faults=report["faults"])
    return row


def _run_isolated(peer: str, program: Path, workload: workloads.Workload, reference: Any, reference_peer: str | None, config: Config, row: Row, notes: list[str]) -> Cell:
    report = run_worker(peer, program_target(program), config, config.timeout)
    if "status" in report:
        if report["status"] == "timeout":
            row.builds[peer] = config.timeout
            notes.append(f"{workload.name}: {peer} did not finish within {config.timeout:.0f} s")
        elif report["status"] == "FAIL":
            notes.append(f"{workload.name}: {peer} failed: {report['error']}")
        return Cell(status=report["status"])
    row.builds[peer] = report["build"]
    if report["ops"] is not None:
        row.ops[peer] = report["ops"]
    if reference is not None and not peers.agree(tuple(report["gradient"]), reference):
        notes.append(f"{workload.name}: {peer} disagrees with {reference_peer}")
        return Cell(status="WRONG")
    return Cell(report["seconds"])


def program_target(program: Path) -> list[str]:
    """worker.py's arguments for a generated program (its file is named generated_<N>.py)."""
    return ["--program", str(program), "--statements", program.stem.rsplit("_", 1)[1]]


def run_worker(peer: str, target: list[str], config: Config, timeout: float) -> dict[str, Any]:
    """worker.py's report on ``target`` (its --program or --workload arguments), or
    {"status": "timeout" | "-" | "n/a" | "FAIL", ...}."""
    command = [sys.executable, str(HERE / "worker.py"), "--peer", peer, *target]
    if config.quick:
        command.append("--quick")
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    if finished.returncode != 0:
        if "Unavailable" in finished.stderr:
            return {"status": "-"}
        if "NotApplicable" in finished.stderr:
            return {"status": "n/a"}
        lines = finished.stderr.strip().splitlines() or ["no output"]
        return {"status": "FAIL", "error": lines[-1]}
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _describe(error: BaseException) -> str:
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0]}" + (" [...]" if len(lines) > 1 else "")


def _difference(result: Any, reference: Any) -> str:
    try:
        pairs = zip(peers.as_arrays(result), peers.as_arrays(reference))
        return "max abs difference " + ", ".join(f"{float(abs(g - w).max()):.3g}" for g, w in pairs)
    except Exception:  # shapes differ
        return "different shapes"


# -- groups -------------------------------------------------------------------------------------


def seed_sized(config: Config, notes: list[str], directory: Path) -> str:
    scalar = [run_workload(w, config, notes) for w in workloads.SCALAR_WORKLOADS]
    arrays = [run_workload(w, config, notes) for w in workloads.ARRAY_WORKLOADS]
    fresh = [fresh_processes(w, config, notes) for w in workloads.ARRAY_WORKLOADS]
    _flag_slow(scalar + arrays, notes)
    _flag_slow(fresh, notes, " (fresh process)")
    return "\n\n".join(
        [
            "## Scalar workloads (seed-sized)",
            "One gradient evaluation; ratio to the hand-written backward in parentheses.",
            timing_table(scalar),
            "Build cost (once per function):",
            build_table(scalar),
            "## Array workloads (numpy, float64)",
            "All systems in one process, their repeats interleaved:",
            timing_table(arrays),
            "Each system alone in a fresh process (`worker.py`), as in a user's program:",
            timing_table(fresh),
            "Minor page faults per call: pages of fresh memory a call touches, about 2 µs each here. "
            "glibc's allocator gives freed memory back to the system once enough of it is free at the top "
            "of the heap, so code that frees many large temporaries at once pays for their pages again on "
            "the next call; in a shared process, what the systems timed before allocated and freed moves "
            "those limits (glibc raises them after freeing a large block), which is why the two tables differ.",
            faults_table([*(("one process", r) for r in arrays), *(("fresh process", r) for r in fresh)]),
            "Build cost (once per function; gradgen specializes per argument shapes on the first call):",
            build_table(arrays, arrays=True),
        ]
    )


def rnn_loop(config: Config, notes: list[str], directory: Path) -> str:
    workload = workloads.RNN_WORKLOAD
    row = run_workload(workload, config, notes)
    fresh = fresh_processes(workload, config, notes)
    _flag_slow([row], notes)
    _flag_slow([fresh], notes, " (fresh process)")
    backward = gradgen.grad(workload.make(np), wrt=workload.wrt)
    generic = backward.generic  # the code before specialization: shape helpers decide at run time
    variants = timing.measure_interleaved({"specialized": lambda: backward(*workload.args), "generic": lambda: generic(*workload.args)}, config.settings)
    return "\n\n".join(
        [
            "## RNN-style loop (numpy, float64)",
            "`h = tanh(W @ h + U @ xs[t] + b)` for t in range(100), hidden 64, input 32, one sequence, a squared "
            "error per step, gradient with respect to W, U and b. The forward is the same plain Python `for` loop "
            "for every system. The hand-written backward is textbook BPTT: it keeps every hidden state and adds "
            "each step's outer products. gradgen's backward is a reversed loop fed by the hidden states its "
            "forward loop recorded (each step's new state is the one the step after popped), and its forward "
            "does not compute the loss, which the gradient does not need. jax jit(grad) unrolls the 100 "
            "steps while tracing (what a user of `jax.jit` on this loop gets).",
            "All systems in one process, interleaved, then each alone in a fresh process:",
            timing_table([row]),
            timing_table([fresh]),
            "Minor page faults per call:",
            faults_table([("one process", row), ("fresh process", fresh)]),
            "Build cost (gradgen specializes per argument shapes on the first call):",
            build_table([row], arrays=True),
            f"gradgen's code specialized for these shapes vs its generic code (run-time broadcasting helpers): "
            f"{microseconds(variants['specialized'])} vs {microseconds(variants['generic'])} "
            f"({ratio(variants['generic'] / variants['specialized'])} faster).",
        ]
    )


def _flag_slow(rows: list[Row], notes: list[str], setting: str = "") -> None:
    for r in rows:
        hand, mine = r.cells["hand"].seconds, r.cells["gradgen"].seconds
        if hand and mine and mine > SLOW_THRESHOLD * hand:
            notes.append(f"{r.workload.name}{setting}: gradgen's emitted code is {mine / hand:.2f}x the hand-written backward")


def generated_programs(config: Config, notes: list[str], directory: Path) -> str:
    sizes = (300,) if config.quick else (300, 3000)
    rows = []
    for statements in sizes:
        program = generated.write_program(directory, statements)
        workload = generated.workload(program, statements)
        isolated = {"jax jit(grad)": program}
        skip: tuple[str, ...] = ()
        if statements <= 300:
            isolated["sympy"] = program
        else:
            skip = ("sympy",)
        rows.append(run_workload(workload, config, notes, isolated, skip))
    return "\n\n".join(
        [
            "## Generated scalar programs",
            f"A deterministic chain of N statements over {generated.N_INPUTS} inputs (+ - * / and math "
            "sin/cos/exp/log/tanh, values fanning out; see generated.py), written to a .py file and imported. "
            "There is no hand-written backward: ratios are to gradgen. jax jit(grad) and sympy run in a "
            f"subprocess with a {config.timeout:.0f} s budget (build and timing); sympy only for 300 statements. "
            "The reference gradient is autograd's.",
            timing_table(rows),
            "Build cost:",
            build_table(rows),
        ]
    )


def compile_growth(config: Config, notes: list[str], directory: Path) -> str:
    sizes = (30, 100, 300) if config.quick else (30, 100, 300, 1000, 3000)
    jit_limit, sympy_limit, peer_timeout = (100, 30, 30.0) if config.quick else (300, 100, 60.0)
    body = []
    for statements in sizes:
        seeds = (1,) if statements >= 3000 or config.quick else (1, 2, 3)
        compiles, ops, evaluations = [], [], []
        for seed in seeds:
            path = directory / f"growth_{statements}_{seed}" / f"generated_{statements}.py"
            path.parent.mkdir()
            path.write_text(generated.program_source(statements, seed))
            workload = generated.workload(path, statements)
            ready = peers.prepare("gradgen", workload)  # the grad() call on a fresh function
            compiles.append(ready.build_seconds)
            ops.append(ready.ops)
            evaluations.append(timing.measure(ready.call, config.settings))
            if seed == seeds[0]:
                first = path
        compile_seconds = statistics.median(compiles)
        evaluation = statistics.median(evaluations)
        op_count = statistics.median(ops)
        others = []
        for peer, limit in (("jax jit(grad)", jit_limit), ("sympy", sympy_limit)):
            others.append(_build_cell(run_worker(peer, program_target(first), config, peer_timeout), peer_timeout) if statements <= limit else "n/a")
        body.append(
            [
                str(statements),
                milliseconds(compile_seconds),
                f"{compile_seconds * 1e3 / statements:.2f} ms",
                f"{op_count:.0f}",
                f"{op_count / statements:.1f}",
                microseconds(evaluation),
                f"{evaluation * 1e9 / op_count:.0f} ns",
                *others,
            ]
        )
    return "\n\n".join(
        [
            "## gradgen compile time vs program size",
            f"grad() on fresh generated programs (median over {'1 seed' if config.quick else '3 seeds; 1 for 3000'}). "
            f"For comparison, the build time of jax jit(grad) (first seed, up to {jit_limit} statements) and of "
            f"sympy diff+lambdify with its cse'd op count (up to {sympy_limit} statements), each in a subprocess "
            f"with a {peer_timeout:.0f} s budget.",
            table(
                ["statements", "gradgen grad()", "per statement", "emitted ops", "ops per statement", "evaluation", "per op", "jax jit(grad) trace+compile", "sympy diff+lambdify (ops)"],
                body,
            ),
        ]
    )


def _build_cell(report: dict[str, Any], timeout: float) -> str:
    if report.get("status") == "timeout":
        return f"> {timeout:.0f} s (timeout)"
    if "status" in report:
        return report["status"]
    ops = f" ({report['ops']})" if report["ops"] is not None else ""
    return milliseconds(report["build"]) + ops


# -- report -------------------------------------------------------------------------------------


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(USABLE)  # before the pinning
    versions = peers.versions()
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--", "gradgen") else ""
    torch_threads = f"torch {peers.torch.get_num_threads()}" if peers.torch else "torch not installed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- CPU: {model}; {os.cpu_count()} logical cores ({usable} usable); load average at start {load}",
        f"- {platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
        f"- gradgen {versions['gradgen']} at commit {commit}{dirty}; numpy {versions['numpy']}",
        f"- peers: autograd {versions['autograd']}, jax {versions['jax']} / jaxlib {versions['jaxlib']} (x64, CPU), "
        f"torch {versions['torch']} (CPU, float64), sympy {versions['sympy']}",
        f"- threads per library: {THREADS} (`--threads`; OMP/OpenBLAS/MKL_NUM_THREADS={THREADS}, {torch_threads}"
        + (", XLA single-threaded)" if THREADS == 1 else ", XLA default)")
        + (f"; the process and its workers are pinned to core(s) {', '.join(map(str, PINNED))}" if PINNED else ""),
    ]


def _git(*arguments: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(HERE.parent), *arguments], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


SECTIONS = {"seed": seed_sized, "generated": generated_programs, "growth": compile_growth, "rnn": rnn_loop, "memory": memory.loop_memory}


def _first_grad_seconds() -> float:
    """The first grad() of the process (the neuron), whose one-time work the later ones skip."""
    workload = workloads.SCALAR_WORKLOADS[0]
    return peers.prepare("gradgen", workload).build_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few repeats, short timeouts, no 3000-statement program")
    parser.add_argument("--threads", type=int, default=1, help="threads per library (BLAS, torch, XLA); default 1")
    parser.add_argument("--output", type=Path, help="markdown file to write (default: benchmarks/RESULTS.md for a full run, none for --quick)")
    parser.add_argument("--only", help=f"comma-separated sections to run, of: {', '.join(SECTIONS)} (default: all); writes no file unless --output")
    options = parser.parse_args(argv)
    config = Config(timing.QUICK, True, 30.0) if options.quick else Config(timing.FULL, False, 120.0)
    chosen = options.only.split(",") if options.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    output = options.output or (None if options.quick or options.only else HERE / "RESULTS.md")

    started = time.perf_counter()
    header = machine()
    header.append(
        f"- gradgen's one-time cost in a process: the first grad() call took {milliseconds(_first_grad_seconds())} "
        "(it loads and checks the rule templates); every build cost below is per function, after it"
    )
    notes: list[str] = []
    sections = []
    with tempfile.TemporaryDirectory(prefix="gradgen_bench_") as scratch:
        directory = Path(scratch)
        for name in chosen:
            section = SECTIONS[name](config, notes, directory)
            print(section + "\n", flush=True)
            sections.append(section)
    elapsed = time.perf_counter() - started

    settings = config.settings
    method = (
        f"Each cell: median over up to {settings.repeat} repeats of a timed loop lasting at least "
        f"{settings.min_time * 1e3:.0f} ms (fewer repeats for calls slower than {settings.budget:.0f} s / repeat; "
        "gc off, repeats interleaved across systems). Gradients of every system were checked (allclose, "
        "rtol 1e-7) against the reference before timing; \"WRONG\" marks a disagreement, \"FAIL\" an error, "
        "\"-\" a peer that is not installed, \"n/a\" a system not run on that workload."
    )
    findings = "\n".join(f"- {note}" for note in notes) or "- none: gradgen compiled every workload, agreed with the reference, and was within 5% of the hand-written code."
    report = "\n\n".join(
        [
            "# gradgen benchmarks" + (" (quick run)" if options.quick else ""),
            "Rerun: `python benchmarks/run.py` (full, ~10 min on 2 cores) or `python benchmarks/run.py --quick` (smoke run). "
            "See benchmarks/README.md.",
            "## Machine\n\n" + "\n".join(header) + f"\n- run took {elapsed / 60:.1f} min; load average at end "
            + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "## Method\n\n" + method,
            *sections,
            "## Findings\n\nCases where gradgen's emitted code is more than 5% slower than the hand-written code, "
            "fails to compile, or where a system disagrees with the reference:\n\n" + findings,
        ]
    )
    print("## Findings\n\n" + findings)
    print(f"\n(run took {elapsed / 60:.1f} min)")
    if output is not None:
        output.write_text(report + "\n")
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
