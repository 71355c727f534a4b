"""Run one system on one workload in its own process, so the caller can time it out, and so
nothing else has shaped the process's allocator before the system is timed.

    python benchmarks/worker.py --peer sympy --program /tmp/x/generated_300.py --statements 300
    python benchmarks/worker.py --peer gradgen --workload "MLP 256x784-256-10"

Prints one JSON line: the build time, op count, seconds per gradient call, minor page faults
per call, and either the gradient (generated programs, checked by the caller against its
reference) or whether it agrees with the hand-written backward (named workloads, checked here:
their gradients are too large to send back).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import generated
import peers
import timing
import workloads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, choices=peers.PEERS)
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--program", type=Path, help="a generated program (needs --statements)")
    chosen.add_argument("--workload", choices=[w.name for w in workloads.NAMED_WORKLOADS])
    parser.add_argument("--statements", type=int)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.program is not None:
        workload = generated.workload(options.program, options.statements)
    else:
        workload = next(w for w in workloads.NAMED_WORKLOADS if w.name == options.workload)
    prepared = peers.prepare(options.peer, workload)
    result = prepared.call()
    settings = timing.QUICK if options.quick else timing.FULL
    seconds = timing.measure(prepared.call, settings)
    faults = timing.page_faults_per_call(prepared.call, max(3, int(settings.min_time / seconds)))
    report = {"build": prepared.build_seconds, "ops": prepared.ops, "seconds": seconds, "faults": faults}
    if options.program is not None:
        report["gradient"] = [float(g) for g in peers.as_arrays(result)]
    else:
        report["agrees"] = peers.agree(result, workload.hand(*workload.args))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
