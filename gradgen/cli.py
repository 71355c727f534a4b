"""The ``gradgen`` command line: print a backward function, or check one against sympy.

    gradgen show  path/to/file.py:function [--wrt a,b] [--no-optimize]
    gradgen check path/to/file.py:function --at 1.0,2.0 [--wrt a,b] [--no-optimize]

``main`` guarantees its exit code: 0 on success (for ``check``: every partial agrees), 1 when
gradgen reports a problem with the user's code (the diagnostic goes to stderr as gradgen wrote
it) or ``check`` finds a mismatch, 2 for a bad command line (missing file or function, a bad
``--at`` or ``--wrt``), reported as one ``gradgen: error: ...`` line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import inspect
import itertools
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path

from gradgen.errors import GradgenError

_module_counter = itertools.count()


class UsageError(Exception):
    """A problem with the command line itself; reported argparse-style with exit code 2."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _build_parser()
    try:
        arguments = parser.parse_args(_attach_option_values(argv, "--at"))
    except SystemExit as exit_request:  # --help, --version, or argparse's own usage errors
        return _exit_code(exit_request)
    try:
        if arguments.command == "show":
            return _show(arguments)
        return _check(arguments)
    except BrokenPipeError:
        # The reader went away (gradgen show ... | head): stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        return 0
    except UsageError as error:
        print(f"gradgen: error: {error}", file=sys.stderr)
        return 2
    except GradgenError as error:
        # A located diagnostic already reads "file:line:col: error: ..."; a bare one gets a prefix.
        prefix = "" if error.location is not None else "gradgen: "
        print(f"{prefix}{error}", file=sys.stderr)
        return 1


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradgen",
        description="Source-to-source reverse-mode differentiation for Python.",
    )
    parser.add_argument("--version", action="version", version=f"gradgen {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    show = commands.add_parser("show", help="print the backward source gradgen emits")
    check = commands.add_parser("check", help="compare gradgen's gradient with sympy's at a point")
    wrt_help = "parameters to differentiate: names or 0-based indices, comma separated"
    for command, wrt_detail in (
        (show, " (default: all; one parameter gives one gradient, several a tuple)"),
        (check, " (default: all)"),
    ):
        command.add_argument("target", help="path/to/file.py:function")
        command.add_argument("--wrt", help=wrt_help + wrt_detail)
        command.add_argument(
            "--no-optimize", dest="optimize", action="store_false", help="skip the graph passes"
        )
    check.add_argument(
        "--at", required=True, help="the point: one number per parameter, comma separated"
    )
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("gradgen")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _attach_option_values(argv: Sequence[str] | None, option: str) -> list[str]:
    """Turn ``--at -1,2`` into ``--at=-1,2``.

    argparse takes a value starting with '-' for an option unless it is a single negative
    number, so a point whose first coordinate is negative would be refused.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    joined: list[str] = []
    index = 0
    while index < len(arguments):
        if arguments[index] == option and index + 1 < len(arguments):
            joined.append(f"{option}={arguments[index + 1]}")
            index += 2
        else:
            joined.append(arguments[index])
            index += 1
    return joined


def _exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _show(arguments: argparse.Namespace) -> int:
    function = load_function(arguments.target)
    wrt = _wrt(function, arguments.wrt)
    from gradgen.api import grad

    gradient = grad(function, wrt=wrt[0] if len(wrt) == 1 else wrt, optimize=arguments.optimize)
    print(gradient.source.rstrip("\n"))
    return 0


def _check(arguments: argparse.Namespace) -> int:
    function = load_function(arguments.target)
    point = _point(function, arguments.at)
    wrt = _wrt(function, arguments.wrt)
    from gradgen.sympy_bridge import check

    report = check(function, *point, wrt=wrt, optimize=arguments.optimize)
    print(report)
    return 0 if report.ok else 1


def load_function(target: str) -> types.FunctionType:
    """Import ``path/to/file.py`` as a fresh module and return its ``function``."""
    path_text, separator, function_name = target.rpartition(":")
    if not separator or not path_text or not function_name:
        raise UsageError(f"expected path/to/file.py:function, got '{target}'")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path_text}")
    module = _import_file(path.resolve())
    function = getattr(module, function_name, None)
    if function is None:
        raise UsageError(f"{path_text} has no function '{function_name}'")
    if not isinstance(function, types.FunctionType):
        raise UsageError(
            f"'{function_name}' in {path_text} is a {type(function).__name__}, not a function"
        )
    return function


def _import_file(path: Path) -> types.ModuleType:
    # A unique name, so that two files called model.py (or one loaded twice) never collide.
    module_name = f"_gradgen_target_{next(_module_counter)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # inspect finds a function's source through its module, so the module must be registered.
    sys.modules[module_name] = module
    # The file may import its neighbours, as it would when run as a script.
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise UsageError(f"importing {path} failed: {type(error).__name__}: {error}") from error
    finally:
        sys.path.remove(str(path.parent))
    return module


def _parameters(function: types.FunctionType) -> list[str]:
    return list(inspect.signature(function).parameters)


def _wrt(function: types.FunctionType, text: str | None) -> tuple[str, ...]:
    names = _parameters(function)
    if text is None:
        return tuple(names)
    chosen: list[str] = []
    for item in _split(text, "--wrt"):
        name = _parameter_name(function, names, item)
        if name in chosen:
            raise UsageError(f"--wrt names '{name}' twice")
        chosen.append(name)
    return tuple(chosen)


def _parameter_name(function: types.FunctionType, names: list[str], item: str) -> str:
    listing = f"{function.__name__} has parameters {', '.join(names) or '(none)'}"
    if item.lstrip("-").isdigit():
        index = int(item)
        if not 0 <= index < len(names):
            raise UsageError(f"--wrt: index {index} is out of range; {listing}")
        return names[index]
    if item not in names:
        raise UsageError(f"--wrt: no parameter '{item}'; {listing}")
    return item


def _point(function: types.FunctionType, text: str) -> tuple[float, ...]:
    names = _parameters(function)
    values = []
    for item in _split(text, "--at"):
        try:
            values.append(float(item))
        except ValueError:
            raise UsageError(f"--at: '{item}' is not a number") from None
    if len(values) != len(names):
        raise UsageError(
            f"--at gives {len(values)} values but {function.__name__} takes {len(names)} "
            f"parameters ({', '.join(names)})"
        )
    return tuple(values)


def _split(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise UsageError(f"{option}: empty item in '{text}'")
    return items
