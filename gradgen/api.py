"""The public API: ``grad``, ``value_and_grad``, ``vjp`` and ``jacobian``.

Each compiles once, when called, through the whole pipeline (parse -> scalar inference ->
reverse -> optimize -> emit) and returns the compiled backward function itself: calling it
costs exactly what the emitted code costs (for arrays, the code specialized for the latest
call's shapes, after a guard that tests each array's class, shape and dtype: ``dispatch.py``). It carries ``.source`` (the emitted code),
``.forward`` (the function it differentiates), ``.wrt`` (parameter names) and ``.graph``.
This module checks the arguments (``wrt``, ``has_aux``) and builds the backward graph;
``compiled.py`` turns that graph into the function.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable, Sequence, Union

import numpy as np

from gradgen import compiled, emit, kinds, passes, reverse
from gradgen.collector import collector_paused
from gradgen.errors import GradgenError, InvalidArgumentError, NonScalarOutputError
from gradgen.ir import Graph, Value, verify
from gradgen.ops import OPS
from gradgen.parse import ParsedFunction, parse_function

Wrt = Union[int, str, Sequence[Union[int, str]]]

# The test suite sets this to verify the graph after every optimization pass.
VERIFY_EVERY_PASS = os.environ.get("GRADGEN_VERIFY_PASSES") == "1"


def grad(f: Callable[..., Any] | None = None, wrt: Wrt = 0, *, optimize: bool = True, has_aux: bool = False) -> Any:
    """The gradient of a scalar function, as a compiled flat backward function.

    ``wrt`` is a parameter index or name (one gradient is returned) or a tuple of them (a
    tuple of gradients, in that order). Works as a decorator, bare or with arguments.

    >>> import math
    >>> def f(x, y):
    ...     return x * math.sin(y)
    >>> df = grad(f, wrt=("x", "y"))      # doctest: +SKIP  (functions need a source file)
    >>> df(2.0, 0.0)                      # doctest: +SKIP
    (0.0, 2.0)
    """
    if f is None:
        return functools.partial(grad, wrt=wrt, optimize=optimize, has_aux=has_aux)
    return _compile(f, wrt, optimize=optimize, has_aux=has_aux, mode="grad")


def value_and_grad(
    f: Callable[..., Any] | None = None, wrt: Wrt = 0, *, optimize: bool = True, has_aux: bool = False
) -> Any:
    """Like ``grad``, but the compiled function returns ``(value, gradients)``.

    With ``has_aux=True`` it returns ``((value, aux), gradients)``.
    """
    if f is None:
        return functools.partial(value_and_grad, wrt=wrt, optimize=optimize, has_aux=has_aux)
    return _compile(f, wrt, optimize=optimize, has_aux=has_aux, mode="value_and_grad")


def vjp(f: Callable[..., Any] | None = None, wrt: Wrt = 0, *, optimize: bool = True) -> Any:
    """Vector-Jacobian products of a function with any output: ``grad_out`` times its Jacobian.

    The compiled function takes ``f``'s arguments plus ``grad_out``, the adjoint (cotangent) of
    the output, with the output's shape. It is the last positional parameter, or keyword-only
    when ``f`` has positional defaults. It returns the adjoints of the ``wrt`` arguments.

    >>> # def f(x): return np.sin(x) * 2.0
    >>> # pullback = vjp(f); pullback(x, np.ones_like(x)) == 2.0 * np.cos(x)
    """
    if f is None:
        return functools.partial(vjp, wrt=wrt, optimize=optimize)
    return _compile(f, wrt, optimize=optimize, has_aux=False, mode="vjp")


def jacobian(f: Callable[..., Any] | None = None, wrt: Wrt = 0, *, optimize: bool = True) -> Any:
    """The full Jacobian, one vector-Jacobian product per output element (reverse mode).

    For an output of shape ``S`` and an argument of shape ``A`` the Jacobian has shape
    ``S + A`` (``J[i, j] = d out[i] / d x[j]``); for a scalar output it is the gradient.
    """
    if f is None:
        return functools.partial(jacobian, wrt=wrt, optimize=optimize)
    pullback = vjp(f, wrt=wrt, optimize=optimize)
    single = isinstance(wrt, (int, str))

    def full_jacobian(*args: Any, **kwargs: Any) -> Any:
        output_shape = np.shape(f(*args, **kwargs))
        arguments = pullback.bind(*args, **kwargs)
        rows: dict[tuple[int, ...], Any] = {}
        for index in np.ndindex(output_shape):
            cotangent: Any = 1.0
            if output_shape:
                cotangent = np.zeros(output_shape)
                cotangent[index] = 1.0
            rows[index] = pullback(*args, **kwargs, **{pullback.seed_name: cotangent})
        columns = [rows[index] if not single else (rows[index],) for index in rows]
        jacobians = []
        for position, name in enumerate(pullback.wrt):
            argument_shape = np.shape(arguments[name])
            if not output_shape:
                jacobians.append(columns[0][position])
                continue
            matrix = np.empty(output_shape + argument_shape)
            for index, column in zip(rows, columns):
                matrix[index] = column[position]
            jacobians.append(matrix)
        return jacobians[0] if single else tuple(jacobians)

    full_jacobian.__qualname__ = f"jacobian({f.__qualname__}, wrt={wrt!r})"
    full_jacobian.vjp = pullback  # type: ignore[attr-defined]
    full_jacobian.source = pullback.source  # type: ignore[attr-defined]
    full_jacobian.forward = f  # type: ignore[attr-defined]
    return full_jacobian


def _compile(f: Any, wrt: Wrt, *, optimize: bool, has_aux: bool, mode: str) -> Any:
    if not callable(f):
        hint = "did you mean grad(f, wrt=...)? " if isinstance(f, (int, str, tuple, list)) else ""
        raise InvalidArgumentError(f"expected a function to differentiate, got {type(f).__name__} {f!r}", hint=hint + "pass the function first")
    try:
        with collector_paused():
            parsed = parse_function(f)
            indices, single = _resolve_wrt(wrt, parsed)
            graph = _outputs_for(parsed, has_aux, mode)
            signature = compiled.signature_of(parsed, f)
            if mode == "vjp":
                graph = kinds.infer_scalars(graph, False)
                graph, signature, indices = compiled.with_seed(graph, signature, indices)
                seed = graph.inputs[signature.seed_index]  # type: ignore[index]
                backward = _backward(graph, indices, check_output=False, seed=seed, optimize=optimize)
                function = compiled.emit_and_load(f, parsed, backward, signature, indices, single, has_aux, mode, optimize, verify_passes=VERIFY_EVERY_PASS)
            else:
                function, backward = _scalar_output_backward(f, parsed, graph, signature, indices, single, has_aux, mode, optimize)
    except GradgenError:
        raise
    except RecursionError:
        raise GradgenError(f"{getattr(f, '__qualname__', f)} is too deeply nested to compile") from None
    wrt_names = tuple(signature.parameter_names[i] for i in indices)
    shown_wrt = repr(wrt_names[0]) if single else repr(wrt_names)
    function.__qualname__ = f"{mode}({f.__qualname__}, wrt={shown_wrt})"
    function.__doc__ = f"{mode} of {f.__qualname__} with respect to {', '.join(wrt_names)}, generated by gradgen."
    function.forward = f
    function.wrt = wrt_names
    function.graph = backward
    if mode == "vjp":
        function.seed_name = signature.parameter_names[signature.seed_index]  # type: ignore[index]
        function.bind = functools.partial(compiled.forward_arguments, function, signature)
    return function


def _backward(
    graph: Graph, indices: tuple[int, ...], *, check_output: bool, optimize: bool, seed: Value | None = None, keep_value: bool = False
) -> Graph:
    """The optimized backward graph; its outputs are (value if kept, aux if any, *gradients)."""
    if optimize:
        # Merge repeated subterms first: a shared x * z then gets one adjoint, summed over its
        # uses, and one application of its rule (as in hand-written backprop).
        graph = passes.optimize(graph, check=VERIFY_EVERY_PASS)
    graph = reverse.differentiate(graph, indices, check_output=check_output, seed=seed)
    if not keep_value:  # nothing reads the output's value: let dead-code elimination see that
        graph = Graph(graph.inputs, graph.equations, graph.outputs[1:])
    if optimize:
        graph = passes.optimize(graph, check=VERIFY_EVERY_PASS)
    return verify(graph)


def _scalar_output_backward(
    f: Any, parsed: ParsedFunction, graph: Graph, signature: emit.Signature, indices: tuple[int, ...],
    single: bool, has_aux: bool, mode: str, optimize: bool,
) -> tuple[Any, Graph]:
    """grad and value_and_grad: the output is a scalar by contract.

    What the contract proves about the operands (numpy broadcasting never shrinks a shape)
    saves broadcasting reductions and keeps scalar code in Python floats. Where the output is
    not proven scalar without the contract, the fast code is guarded by float tests of the
    arguments the proof needs (``kinds.assumption_guard``) and falls back to code that checks
    the output at run time; with no such guard, only the checked code is built.
    """
    keep_value = mode == "value_and_grad"
    proven = kinds.infer_scalars(graph, False)
    output = proven.outputs[0]
    if not isinstance(output, Value) or output.scalar:
        backward = _backward(proven, indices, check_output=False, optimize=optimize, keep_value=keep_value)
        return compiled.emit_and_load(f, parsed, backward, signature, indices, single, has_aux, mode, optimize, verify_passes=VERIFY_EVERY_PASS), backward

    def build_checked() -> tuple[Any, Graph]:
        checked_graph = _backward(proven, indices, check_output=True, optimize=optimize, keep_value=keep_value)
        checked = compiled.emit_and_load(f, parsed, checked_graph, signature, indices, single, has_aux, mode, optimize, verify_passes=VERIFY_EVERY_PASS)
        return checked, checked_graph

    assumed = kinds.infer_scalars(graph, True)
    guard = kinds.assumption_guard(proven, assumed)
    if guard is None and any(OPS[eq.op].family == "control" for eq in graph.equations):
        guarded = kinds.control_flow_guard(proven)
        if guarded is not None:
            assumed, guard = guarded
    if guard is None:
        return build_checked()
    # Past the guard those arguments are Python floats: simplifications may rely on it.
    assumed = _with_float_inputs(assumed, guard)
    backward = _backward(assumed, indices, check_output=False, optimize=optimize, keep_value=keep_value)
    checked = _LazyFallback(lambda: build_checked()[0])
    fast = compiled.emit_and_load(
        f, parsed, backward, signature, indices, single, has_aux, mode, optimize, verify_passes=VERIFY_EVERY_PASS, guard=guard, fallback=checked
    )
    checked.callers = fast.__globals__
    fast.fallback = checked
    fast.source_for = functools.partial(compiled.guarded_source_for, fast, guard, signature)
    return fast, backward


class _LazyFallback:
    """The checked code behind a float guard, compiled on the first call that needs it.

    Most scalar code is only ever called with floats, so building the fallback at grad() time
    would double the compile time for nothing. On its first use (a call, or an attribute such
    as ``.source``) it compiles the checked code, and rebinds ``__gradgen_fallback`` in the
    fast function's globals (``callers``) to it, so later calls go straight there.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built: Any = None
        self.callers: dict[str, Any] = {}

    def built(self) -> Any:
        if self._built is None:
            with collector_paused():
                self._built = self._build()
            self.callers["__gradgen_fallback"] = self._built
        return self._built

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.built()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.built(), name)


def _with_float_inputs(graph: Graph, positions: tuple[int, ...]) -> Graph:
    from gradgen.passes.substitution import rename

    floats = {graph.inputs[i].id: dataclasses.replace(graph.inputs[i], dtype="py:float") for i in positions}
    return rename(graph, floats)


def _resolve_wrt(wrt: Wrt, parsed: ParsedFunction) -> tuple[tuple[int, ...], bool]:
    names = parsed.parameters
    single = isinstance(wrt, (int, str))
    items = (wrt,) if single else wrt
    if not isinstance(items, (tuple, list)) or not items:
        raise InvalidArgumentError(f"wrt must be a parameter index or name, or a non-empty tuple of them; got {wrt!r}")
    indices = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise InvalidArgumentError(f"wrt entries are parameter indices or names, got {item!r}")
        if isinstance(item, str):
            if item not in names:
                raise InvalidArgumentError(
                    f"{parsed.source.name}() has no parameter {item!r}", hint=f"its parameters are {', '.join(names) or '(none)'}"
                )
            index = names.index(item)
        else:
            if not 0 <= item < len(names):
                raise InvalidArgumentError(
                    f"wrt index {item} is out of range: {parsed.source.name}() has {len(names)} parameter(s)",
                    hint=f"its parameters are {', '.join(names) or '(none)'}",
                )
            index = item
        if index in indices:
            raise InvalidArgumentError(f"parameter {names[index]!r} appears twice in wrt")
        indices.append(index)
    return tuple(indices), single


def _outputs_for(parsed: ParsedFunction, has_aux: bool, mode: str) -> Graph:
    count = len(parsed.graph.outputs)
    if mode == "vjp" and parsed.returns_tuple:
        raise NonScalarOutputError(
            f"{parsed.source.name}() returns a tuple of {count} values; vjp() needs one output",
            parsed.return_location,
            hint="return one number or array (np.stack the parts if they belong together)",
        )
    if has_aux and (not parsed.returns_tuple or count != 2):
        raise InvalidArgumentError(
            "has_aux=True needs the function to return (output, aux)",
            parsed.return_location,
            hint="return a pair: the scalar to differentiate and the auxiliary value",
        )
    if not has_aux and parsed.returns_tuple:
        raise NonScalarOutputError(
            f"{parsed.source.name}() returns a tuple of {count} values; grad() needs one scalar output",
            parsed.return_location,
            hint="return one scalar, or pass has_aux=True to return (output, auxiliary data)",
        )
    return parsed.graph


