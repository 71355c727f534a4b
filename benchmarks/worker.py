"""Run one peer on one generated program in its own process, so the caller can time it out.

    python benchmarks/worker.py --peer sympy --program /tmp/x/generated_300.py --statements 300

Prints one JSON line: the build time, op count, seconds per gradient call and the gradient.
Used for the peers whose build time grows fastest (sympy's diff, XLA's compile of jit(grad)).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import generated
import peers
import timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, choices=peers.PEERS)
    parser.add_argument("--program", required=True, type=Path)
    parser.add_argument("--statements", required=True, type=int)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    workload = generated.workload(options.program, options.statements)
    prepared = peers.prepare(options.peer, workload)
    gradient = [float(g) for g in peers.as_arrays(prepared.call())]
    seconds = timing.measure(prepared.call, timing.QUICK if options.quick else timing.FULL)
    print(json.dumps({"build": prepared.build_seconds, "ops": prepared.ops, "seconds": seconds, "gradient": gradient}))


if __name__ == "__main__":
    main()
