"""The example scripts in examples/.

Two independent checks:

* every script runs to completion (it builds its gradient with gradgen and
  exits non-zero if that disagrees with the hand-derived reference), and
  prints the emitted backward source;
* every hand-derived reference the scripts compare against is itself
  checked against central finite differences of the forward function, so
  a wrong reference cannot make a wrong gradient look right. This part
  does not call gradgen.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# (module, forward function, reference function, wrt, point). wrt and point
# name module attributes, so the check uses exactly what the script uses.
REFERENCES = [
    ("neuron", "neuron", "hand_grads", "WRT", "POINT"),
    ("neuron", "neuron", "neuron_flat_backward", "WRT", "POINT"),
    ("add_mul", "add_mul", "hand_grads", "WRT", "POINT"),
    ("logistic_least_squares", "loss", "error_signals", "WRT", "POINT"),
    ("calculus_quiz", "quiz1", "quiz1_hand", "QUIZ1_WRT", "QUIZ1_POINT"),
    ("calculus_quiz", "staged", "staged_hand", None, "STAGED_POINT"),
    ("softmax_regression", "loss", "seed_grads", "WRT", "POINT"),
    ("mlp_vector", "loss", "seed_backward", "WRT", "POINT"),
    ("mlp_scalar", "loss", "error_signals", "WRT", "POINT"),
    ("two_layer_net", "loss", "seed_backward", "WRT", "POINT"),
    ("xor_mlp", "loss", "seed_backward", "WRT", "POINT"),
    ("vector_norm", "squared_norm", "seed_grads", "WRT", "POINT"),
    ("rnn", "loss", "bptt", "WRT", "POINT"),
]


def _env():
    # Lets the scripts import gradgen from the source tree even when it is not installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def test_examples_exist():
    assert SCRIPTS, "no scripts found in examples/"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_runs(script):
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "def " in proc.stdout, output


def _load(name, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_gradgen_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _central_difference(f, point, name, eps=1e-6):
    x = np.array(point[name], dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        h = eps * max(1.0, abs(x[idx]))
        values = []
        for sign in (1.0, -1.0):
            shifted = x.copy()
            shifted[idx] += sign * h
            args = dict(point)
            args[name] = shifted if x.ndim else float(shifted)
            values.append(f(**args))
        grad[idx] = (values[0] - values[1]) / (2 * h)
    return grad


def test_every_example_has_a_finite_difference_check():
    checked = {module for module, *_ in REFERENCES}
    assert {p.stem for p in SCRIPTS} <= checked


@pytest.mark.parametrize(
    "module_name, forward, reference, wrt, point",
    REFERENCES,
    ids=[f"{m}.{r}" for m, _, r, _, _ in REFERENCES],
)
def test_reference_matches_finite_differences(
    module_name, forward, reference, wrt, point, monkeypatch
):
    module = _load(module_name, monkeypatch)
    f = getattr(module, forward)
    point = getattr(module, point)
    if wrt is None:  # single-argument function: the reference returns one gradient
        wrt = tuple(point)
        expected = (getattr(module, reference)(**point),)
    else:
        wrt = getattr(module, wrt)
        expected = getattr(module, reference)(**point)
    assert len(expected) == len(wrt)
    for name, want in zip(wrt, expected):
        want = np.asarray(want, dtype=float)
        fd = _central_difference(f, point, name)
        assert want.shape == fd.shape, name
        err = np.max(np.abs(fd - want)) / np.max(np.abs(want))
        assert err < 1e-6, f"{name}: reference {want} vs finite differences {fd} ({err:.1e})"
