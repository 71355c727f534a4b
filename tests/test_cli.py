"""The gradgen command line: exit codes, one-line usage errors, show and check end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradgen.cli import main

REPOSITORY = Path(__file__).resolve().parent.parent

NEURON_SOURCE = """\
import math


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def neuron(w0, x0, w1, x1, w2):
    s0 = w0 * x0
    s1 = w1 * x1
    s2 = s0 + s1
    s3 = s2 + w2
    L = sigmoid(s3)
    return L


def square(x):
    return x * x


def uses_a_loop(x):
    total = 0.0
    for _ in range(3):
        total = total + x
    return total


def uses_try(x):
    try:
        return x
    except ValueError:
        return 0.0


def converts_to_float(x):
    y = float(x)
    return y * x


NOT_A_FUNCTION = 3.0
"""


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(NEURON_SOURCE)
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_usage_error(result: tuple[int, str, str], message: str) -> None:
    code, out, err = result
    assert code == 2
    assert out == ""
    assert err.startswith("gradgen: error: ")
    assert message in err
    assert err.count("\n") == 1, "one line, no traceback"


# --- usage errors: exit code 2, one line ------------------------------------------------------


def test_a_missing_file(capsys, tmp_path):
    result = run(capsys, "show", f"{tmp_path / 'absent.py'}:f")
    assert_usage_error(result, "no such file")


def test_a_missing_function(capsys, model_file):
    assert_usage_error(run(capsys, "show", f"{model_file}:nope"), "has no function 'nope'")


def test_a_name_that_is_not_a_function(capsys, model_file):
    result = run(capsys, "show", f"{model_file}:NOT_A_FUNCTION")
    assert_usage_error(result, "not a function")


@pytest.mark.parametrize("target", ["model.py", "model.py:", ":neuron"])
def test_a_target_without_a_function(capsys, model_file, target):
    target = target.replace("model.py", str(model_file))
    assert_usage_error(run(capsys, "show", target), "expected path/to/file.py:function")


def test_at_with_the_wrong_count(capsys, model_file):
    result = run(capsys, "check", f"{model_file}:neuron", "--at", "1.0,2.0")
    assert_usage_error(result, "--at gives 2 values but neuron takes 5 parameters")


def test_at_with_something_that_is_not_a_number(capsys, model_file):
    result = run(capsys, "check", f"{model_file}:square", "--at", "two")
    assert_usage_error(result, "--at: 'two' is not a number")


def test_at_with_an_empty_item(capsys, model_file):
    result = run(capsys, "check", f"{model_file}:neuron", "--at", "1,,2,3,4")
    assert_usage_error(result, "empty item")


@pytest.mark.parametrize(
    "wrt, message", [("w9", "no parameter 'w9'"), ("5", "index 5 is out of range"),
                     ("w0,0", "names 'w0' twice")]
)  # fmt: skip
def test_a_bad_wrt(capsys, model_file, wrt, message):
    result = run(capsys, "show", f"{model_file}:neuron", "--wrt", wrt)
    assert_usage_error(result, message)


def test_a_file_that_fails_to_import(capsys, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def f(x:\n    return x\n")
    assert_usage_error(run(capsys, "show", f"{broken}:f"), "SyntaxError")


def test_no_command(capsys):
    code, _, err = run(capsys)
    assert code == 2
    assert "gradgen: error:" in err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("gradgen ")


def test_help_through_python_dash_m():
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPOSITORY), environment.get("PYTHONPATH")])
    )
    completed = subprocess.run(
        [sys.executable, "-m", "gradgen", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: gradgen")
    assert "show" in completed.stdout and "check" in completed.stdout


def test_the_target_module_can_import_its_neighbours(capsys, tmp_path):
    # The module imports fine, and its folder does not stay on sys.path afterwards.
    (tmp_path / "gradgen_cli_test_neighbour.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "uses_neighbour.py").write_text("import gradgen_cli_test_neighbour\n")
    try:
        result = run(capsys, "show", f"{tmp_path / 'uses_neighbour.py'}:missing")
    finally:
        sys.modules.pop("gradgen_cli_test_neighbour", None)
    assert_usage_error(result, "has no function 'missing'")
    assert str(tmp_path) not in sys.path


# --- exit codes of check, with the oracle's verdict decided by the test -----------------------


def fake_report(gradgen_value: float):
    """A report on d(x*x)/dx at x = 3 (sympy: 6.0), with the given value as gradgen's."""
    import sympy

    from gradgen.sympy_bridge import CheckReport, compare_partial

    x = sympy.Symbol("x", real=True)
    partial = compare_partial("x", gradgen_value, sympy.diff(x * x, x), {x: 3.0})
    return CheckReport("square", ("x",), (3.0,), (partial,))


@pytest.mark.parametrize("gradgen_value, exit_code", [(6.0, 0), (7.0, 1)])
def test_check_exit_code_follows_the_report(
    capsys, model_file, monkeypatch, gradgen_value, exit_code
):
    import gradgen.sympy_bridge

    def check(f, *args, wrt=None, optimize=True):
        assert (f.__name__, args, wrt, optimize) == ("square", (3.0,), ("x",), False)
        return fake_report(gradgen_value)

    monkeypatch.setattr(gradgen.sympy_bridge, "check", check)
    code, out, err = run(capsys, "check", f"{model_file}:square", "--at", "3", "--no-optimize")
    assert (code, err) == (exit_code, "")
    assert out == str(fake_report(gradgen_value)) + "\n"
    assert ("MISMATCH" in out) == (exit_code == 1)


def test_a_located_error_is_printed_as_a_diagnostic(capsys, model_file):
    # The oracle cannot turn a symbol into a float; that is the user's code, so exit code 1.
    code, out, err = run(capsys, "check", f"{model_file}:converts_to_float", "--at", "1")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith(f"{model_file}:")
    assert "error: cannot build converts_to_float symbolically" in lines[0]
    assert lines[1].strip() == "y = float(x)"
    assert lines[2].strip() == "^"


def test_an_error_without_location_gets_the_program_prefix(capsys, model_file, monkeypatch):
    import gradgen.sympy_bridge
    from gradgen.errors import InvalidArgumentError

    def check(f, *args, wrt=None, optimize=True):
        raise InvalidArgumentError("something about the arguments")

    monkeypatch.setattr(gradgen.sympy_bridge, "check", check)
    code, _, err = run(capsys, "check", f"{model_file}:square", "--at", "3")
    assert (code, err) == (1, "gradgen: error: something about the arguments\n")


# --- show and check end to end (need the compiler core) ---------------------------------------


def test_show_prints_the_backward_source(capsys, model_file):
    code, out, err = run(capsys, "show", f"{model_file}:neuron")
    assert (code, err) == (0, "")
    compile(out, "<shown>", "exec")  # valid Python
    assert "def grad_neuron(w0, x0, w1, x1, w2):" in out
    assert out.rstrip().splitlines()[-1].lstrip().startswith("return (grad_w0, grad_x0,")


def test_show_one_parameter_by_index(capsys, model_file):
    code, out, _ = run(capsys, "show", f"{model_file}:neuron", "--wrt", "1", "--no-optimize")
    assert code == 0
    assert out.rstrip().splitlines()[-1].strip() == "return grad_x0"


def test_check_passes_on_the_neuron(capsys, model_file):
    code, out, err = run(
        capsys, "check", f"{model_file}:neuron", "--at", "2.0,-1.0,-3.0,-2.0,-3.0"
    )
    assert (code, err) == (0, ""), out
    assert out.splitlines()[0] == "check neuron(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)"
    assert out.rstrip().endswith("ok: all 5 partials agree")


def test_check_a_point_starting_with_a_negative_number(capsys, model_file):
    code, out, _ = run(capsys, "check", f"{model_file}:square", "--at", "-1.5")
    assert code == 0, out
    assert "-3.0" in out


def test_check_a_subset_of_parameters(capsys, model_file):
    code, out, _ = run(
        capsys, "check", f"{model_file}:neuron", "--at", "2,-1,-3,-2,-3", "--wrt", "x1,w0"
    )
    assert code == 0, out
    rows = [line.split()[0] for line in out.splitlines()[2:4]]
    assert rows == ["x1", "w0"]


def test_a_gradgen_error_prints_its_diagnostic_and_exits_1(capsys, model_file):
    code, out, err = run(capsys, "show", f"{model_file}:uses_try")
    assert code == 1
    assert out == ""
    assert err.startswith(f"{model_file}:")
    assert "error:" in err
    assert "Traceback" not in err


def test_show_is_deterministic(capsys, model_file):
    first = run(capsys, "show", f"{model_file}:neuron")
    second = run(capsys, "show", f"{model_file}:neuron")
    assert first == second
