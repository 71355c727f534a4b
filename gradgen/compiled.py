"""Compiled functions: a backward graph -> the Python function ``grad`` and friends return.

``emit_and_load`` emits the graph's source (``emit.py``), compiles it and returns the function
itself, carrying ``.source`` and ``.source_for``; for array arguments, the function runs the
code specialized for its latest call's shapes behind a guard, and a dispatcher compiles and
installs others (``dispatch.py``). Guarantees:

* the function has the forward's parameters and defaults (``signature_of``: the source shows
  literal defaults as written, any other default as ``...``; the real objects are set on the
  function), plus ``grad_out`` for ``vjp`` (``with_seed``), kept required;
* it returns the graph's outputs in the shape of a ``Layout`` (value and aux first);
* every compiled text, dispatchers included, gets a ``linecache`` entry of its own, so
  tracebacks through it show its lines.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import types
from typing import Any

from gradgen import dispatch, emit, reverse
from gradgen.ir import Graph, Value
from gradgen.parse import ParsedFunction


def signature_of(parsed: ParsedFunction, f: Any) -> emit.Signature:
    """The emitted function's parameters: ``f``'s, without annotations, defaults as literals."""
    arguments = ast.arguments(
        posonlyargs=[ast.arg(a.arg) for a in parsed.source.tree.args.posonlyargs],
        args=[ast.arg(a.arg) for a in parsed.source.tree.args.args],
        vararg=None,
        kwonlyargs=[ast.arg(a.arg) for a in parsed.source.tree.args.kwonlyargs],
        kw_defaults=[_default(f.__kwdefaults__, a.arg) for a in parsed.source.tree.args.kwonlyargs],
        kwarg=None,
        defaults=[_literal(value) for value in (f.__defaults__ or ())],
    )
    return emit.Signature(arguments, parsed.parameters)


def _default(defaults: dict[str, Any] | None, name: str) -> ast.expr | None:
    if not defaults or name not in defaults:
        return None
    return _literal(defaults[name])


def _literal(value: Any) -> ast.expr:
    # The real default objects are set on the compiled function; the source shows literals
    # as written and anything else as ``...`` so it still reads as a signature.
    if value is None or isinstance(value, (bool, int, float, str)):
        return ast.Constant(value)
    return ast.Constant(...)


def with_seed(graph: Graph, signature: emit.Signature, indices: tuple[int, ...]) -> tuple[Graph, emit.Signature, tuple[int, ...]]:
    """Add the parameter ``grad_out`` (the output's cotangent) after the positional parameters."""
    arguments = signature.arguments
    names = set(signature.parameter_names)
    seed_name = "grad_out"
    while seed_name in names:
        seed_name += "_"
    position = len(arguments.posonlyargs) + len(arguments.args)
    seed = Value(reverse.next_id(graph), seed_name)
    inputs = graph.inputs[:position] + (seed,) + graph.inputs[position:]
    keyword_only = bool(arguments.defaults)
    if keyword_only:
        arguments = ast.arguments(
            posonlyargs=arguments.posonlyargs, args=arguments.args, vararg=None,
            kwonlyargs=[*arguments.kwonlyargs, ast.arg(seed_name)], kw_defaults=[*arguments.kw_defaults, None],
            kwarg=None, defaults=arguments.defaults,
        )
        inputs = graph.inputs + (seed,)
        position = len(graph.inputs)
    else:
        arguments = ast.arguments(
            posonlyargs=arguments.posonlyargs, args=[*arguments.args, ast.arg(seed_name)], vararg=None,
            kwonlyargs=arguments.kwonlyargs, kw_defaults=arguments.kw_defaults, kwarg=None, defaults=arguments.defaults,
        )
    parameter_names = tuple(v.name for v in inputs)
    shifted = tuple(i if i < position else i + 1 for i in indices)
    return Graph(inputs, graph.equations, graph.outputs), emit.Signature(arguments, parameter_names, position), shifted


def emit_and_load(
    f: Any, parsed: ParsedFunction, graph: Graph, signature: emit.Signature, indices: tuple[int, ...], single: bool,
    has_aux: bool, mode: str, optimize: bool, *, verify_passes: bool, guard: tuple[int, ...] = (), fallback: Any = None,
) -> Any:
    """Emit and load the backward; for array arguments, behind a dispatcher that specializes."""
    forward_outputs = len(graph.outputs) - len(indices)
    layout = _layout(forward_outputs, len(indices), single, has_aux, mode)
    gradients = {forward_outputs + k: argument for k, argument in enumerate(indices)}  # output -> its argument
    name = f"{mode}_{f.__name__}"
    guard_names = tuple(signature.parameter_names[i] for i in guard)
    source = emit.emit_source(graph, signature, name=name, layout=layout, fresh_outputs=gradients, guard=guard_names)

    def load(text: str, function_name: str, namespace: dict[str, Any] | None = None) -> Any:
        return _load(text, function_name, f, parsed, signature, {"__gradgen_fallback": fallback} if namespace is None else namespace)

    function = load(source, name)
    function.source = source
    if optimize and not guard and any(not value.scalar for value in graph.inputs):
        # Arrays: dispatch to code specialized for the arguments' shapes, like a jit.
        specializations = dispatch.Specializations(graph, signature, name, layout, gradients, function, load, verify_passes)
        generic = function
        function = _load_dispatcher(name, signature, specializations, f, parsed)
        function.source = source
        function.generic = generic
        function.source_for = specializations.source_for
    else:
        function.source_for = functools.partial(_same_source, source)
    return function


def _layout(forward_outputs: int, count: int, single: bool, has_aux: bool, mode: str) -> emit.Layout:
    """Where each returned item is among the graph's outputs (value and aux come first)."""
    gradients: emit.Layout = forward_outputs if single else tuple(range(forward_outputs, forward_outputs + count))
    if mode == "value_and_grad":
        return ((0, 1) if has_aux else 0, gradients)
    return (gradients, 0) if has_aux else gradients


def _same_source(source: str, *args: Any, **kwargs: Any) -> str:
    """``source_for`` of a gradient with nothing to specialize: the one source there is."""
    return source


def guarded_source_for(fast: Any, guard: tuple[int, ...], signature: emit.Signature, *args: Any, **kwargs: Any) -> str:
    """``source_for`` of a guarded function: its own source where the guarded arguments are
    Python floats, else the one its fallback runs for these arguments."""
    bound = inspect.signature(fast).bind(*args, **kwargs)
    bound.apply_defaults()
    if all(type(bound.arguments[signature.parameter_names[i]]) is float for i in guard):
        return fast.source
    return fast.fallback.source_for(*args, **kwargs)


_compiled_count = 0


def _load(source: str, name: str, f: Any, parsed: ParsedFunction, signature: emit.Signature, namespace: dict[str, Any]) -> types.FunctionType:
    """Execute ``source`` in ``namespace`` (which keeps what it defines) and return its ``name``."""
    # Each compiled text gets its own linecache entry so tracebacks show its lines.
    global _compiled_count
    _compiled_count += 1
    location = f"{parsed.source.filename}:{parsed.source.tree.lineno}"
    filename = f"<gradgen {name} of {location} #{_compiled_count}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace.setdefault("__name__", getattr(f, "__module__", "__gradgen__"))
    exec(compile(source, filename, "exec"), namespace)
    function = namespace[name]
    function.__defaults__ = f.__defaults__
    function.__kwdefaults__ = f.__kwdefaults__
    if signature.seed_index is not None and f.__defaults__:
        function.__kwdefaults__ = {**(f.__kwdefaults__ or {})}  # grad_out stays required
    return function


def _load_dispatcher(name: str, signature: emit.Signature, specializations: dispatch.Specializations, f: Any, parsed: ParsedFunction) -> Any:
    module = dispatch.dispatcher_module(name, signature, specializations.keyed)
    function = _load(ast.unparse(module) + "\n", name, f, parsed, signature, specializations.namespace)
    # The dispatcher makes each call's specialization this function's own code.
    specializations.namespace[dispatch.HELD] = function
    return function


def forward_arguments(function: Any, signature: emit.Signature, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The forward's arguments by name, defaults applied (used by ``jacobian``)."""
    parameters = [p for p in inspect.signature(function).parameters.values() if p.name != function.seed_name]
    bound = inspect.Signature(parameters).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)
