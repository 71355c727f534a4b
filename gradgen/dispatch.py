"""Dispatch: one backward function per (type, shape, dtype) of the arguments, compiled on first use.

The generic backward is correct for every shape: where it cannot know whether numpy broadcast
an argument, it calls ``runtime`` helpers that find out at run time. When the arguments are
arrays, the function gradgen returns is a small emitted dispatcher: it looks the arguments'
shapes and dtypes up in a cache and calls the backward specialized for them, compiling it the
first time (``stamping.stamp_shapes`` -> ``passes.specialize`` -> ``passes.optimize`` ->
``passes.records`` -> ``passes.buffers`` -> emit), like a jit. Where specialization cannot
decide something, the generic function is used.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

import numpy as np

from gradgen import emit, passes, shapes, stamping
from gradgen.collector import collector_paused
from gradgen.ir import Graph, verify
from gradgen.passes.buffers import reuse_buffers
from gradgen.passes.records import drop_unread_records
from gradgen.passes.specialize import specialize

_MAX_SPECIALIZATIONS = 64


class _NoClass:
    """Never the class of an argument: a snapshot slot holding it makes the fast path miss."""


# Classes whose instances all share one key (a Python number, a numpy scalar type): the class
# alone decides the specialization, so the fast path tests nothing else.
_KEYED_BY_CLASS = (bool, int, float, complex, np.generic)

Loader = Callable[[str, str], Any]


class Specializations:
    """The cache of specialized backward functions of one gradient."""

    def __init__(
        self,
        graph: Graph,
        signature: emit.Signature,
        name: str,
        layout: emit.Layout,
        gradients: frozenset[int],
        generic: Any,
        load: Loader,
        verify_passes: bool,
    ):
        self.graph = graph
        self.gradients = gradients
        self.signature = signature
        self.name = name
        self.layout = layout
        self.generic = generic
        self.load = load
        self.verify_passes = verify_passes
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.sources: dict[tuple[Any, ...], str] = {}
        # Arguments proven scalar at compile time need no place in the key.
        self.keyed = tuple(i for i, value in enumerate(graph.inputs) if not value.scalar)
        # The dispatcher's globals, where ``remember`` leaves the snapshot of the last call.
        self.dispatcher_globals: dict[str, Any] = {}
        self.forget()

    def forget(self) -> None:
        """Make the dispatcher's next call take the full lookup."""
        self.dispatcher_globals[LAST_CALL] = (_NoClass, False, None, None) * len(self.keyed) + (None,)

    def remember(self, arguments: tuple[Any, ...], backward: Any) -> None:
        """Snapshot these arguments' classes, shapes and dtypes for the dispatcher's fast path:
        ``(class, decided by class, shape, dtype)`` per keyed argument, then ``backward``."""
        snapshot: list[Any] = []
        for i in self.keyed:
            argument = arguments[i]
            kind = type(argument)
            if kind is np.ndarray:
                snapshot += [kind, False, argument.shape, argument.dtype]
            elif issubclass(kind, _KEYED_BY_CLASS):
                snapshot += [kind, True, None, None]
            else:
                snapshot += [_NoClass, False, None, None]  # anything else takes the full lookup
        self.dispatcher_globals[LAST_CALL] = (*snapshot, backward)

    def key(self, arguments: tuple[Any, ...]) -> tuple[Any, ...]:
        """The same key the emitted dispatcher builds (see ``dispatcher_module``)."""
        key: list[Any] = []
        for i in self.keyed:
            argument = arguments[i]
            kind = type(argument)
            key += [kind, (argument.shape, argument.dtype) if kind is np.ndarray else key_of(argument)]
        return tuple(key)

    def compile_for(self, key: tuple[Any, ...], arguments: tuple[Any, ...]) -> Any:
        """The backward for these arguments' shapes (generic where it cannot specialize)."""
        function, source = self.generic, None
        with collector_paused():
            try:
                graph = stamping.stamp_shapes(self.graph, arguments)
            except shapes.ShapeError:
                graph = None
            if graph is not None:
                graph = passes.optimize(specialize(graph), check=self.verify_passes)
                graph = drop_unread_records(graph)  # values read only for their shapes are no longer recorded
                graph = reuse_buffers(graph)
                verify(graph)
                source = emit.emit_source(graph, self.signature, name=self.name, layout=self.layout, fresh_outputs=self.gradients)
                function = self.load(source, self.name)
        if len(self.cache) >= _MAX_SPECIALIZATIONS:
            self.cache.clear()
            self.sources.clear()
        self.cache[key] = function
        self.sources[key] = source or self.generic.source
        return function

    def source_for(self, *args: Any, **kwargs: Any) -> str:
        """The specialized backward source for these arguments (compiled if not yet)."""
        arguments = self.bind(args, kwargs)
        key = self.key(arguments)
        if key not in self.sources:
            self.compile_for(key, arguments)
        return self.sources[key]

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        import inspect

        bound = inspect.signature(self.generic).bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments[name] for name in self.signature.parameter_names)


LAST_CALL = "__gradgen_last_call"


def key_of(argument: Any) -> tuple[Any, Any]:
    """The shape and dtype of an argument that is not an ndarray (None for a Python number)."""
    return getattr(argument, "shape", None), getattr(argument, "dtype", None)


def dispatcher_module(name: str, signature: emit.Signature, keyed: tuple[int, ...]) -> ast.Module:
    """``def name(<signature>)``: call the backward of the previous call if these arguments have
    its classes, shapes and dtypes; otherwise look it up by the arguments' key (compiling it the
    first time), remember it, and call it.

    Its free names (``__gradgen_last_call``, ``__gradgen_cache``, ``__gradgen_compile_for``,
    ``__gradgen_remember``, ``__gradgen_ndarray``, ``__gradgen_key_of``) are bound by the
    caller's namespace; the prefix keeps them apart from parameter names.
    """
    names = signature.parameter_names

    def load(name: str) -> ast.expr:
        return ast.Name(name, ast.Load())

    def store(name: str) -> ast.expr:
        return ast.Name(name, ast.Store())

    # (class, decided by class, shape, dtype) per keyed argument, then the backward: unpacked
    # from one tuple, so that the test and the call use the same snapshot.
    snapshot: list[ast.expr] = []
    same_as_last: list[ast.expr] = []
    key_parts: list[ast.expr] = []
    for position, i in enumerate(keyed):
        kind, by_class, shape, dtype = (f"__gradgen_{part}_{position}" for part in ("class", "by_class", "shape", "dtype"))
        snapshot += [store(kind), store(by_class), store(shape), store(dtype)]
        argument = load(names[i])
        argument_class = ast.Attribute(argument, "__class__", ast.Load())
        same_shape = ast.Compare(ast.Attribute(argument, "shape", ast.Load()), [ast.Eq()], [load(shape)])
        same_dtype = ast.Compare(ast.Attribute(argument, "dtype", ast.Load()), [ast.Is()], [load(dtype)])
        same_as_last += [
            ast.Compare(argument_class, [ast.Is()], [load(kind)]),
            ast.BoolOp(ast.Or(), [load(by_class), ast.BoolOp(ast.And(), [same_shape, same_dtype])]),
        ]
        # (x.__class__, (x.shape, x.dtype) if x.__class__ is ndarray else key_of(x)): attribute
        # loads for arrays, the common case, and a call for anything else.
        is_array = ast.Compare(argument_class, [ast.Is()], [load("__gradgen_ndarray")])
        array_key = ast.Tuple([ast.Attribute(argument, "shape", ast.Load()), ast.Attribute(argument, "dtype", ast.Load())], ast.Load())
        other_key = ast.Call(load("__gradgen_key_of"), [argument], [])
        key_parts += [argument_class, ast.IfExp(is_array, array_key, other_key)]
    snapshot.append(store("__gradgen_backward"))
    arguments = ast.Tuple([load(n) for n in names], ast.Load())
    positional = [load(a.arg) for a in [*signature.arguments.posonlyargs, *signature.arguments.args]]
    keywords = [ast.keyword(a.arg, load(a.arg)) for a in signature.arguments.kwonlyargs]
    call = ast.Return(ast.Call(load("__gradgen_backward"), positional, keywords))
    body = [
        ast.Assign([ast.Tuple(snapshot, ast.Store())], load(LAST_CALL), lineno=0),
        ast.If(ast.BoolOp(ast.And(), same_as_last) if len(same_as_last) > 1 else same_as_last[0], [call], []),
        ast.Assign([store("__gradgen_key")], ast.Tuple(key_parts, ast.Load()), lineno=0),
        ast.Assign(
            [store("__gradgen_backward")],
            ast.Call(ast.Attribute(load("__gradgen_cache"), "get", ast.Load()), [load("__gradgen_key")], []),
            lineno=0,
        ),
        ast.If(
            ast.Compare(load("__gradgen_backward"), [ast.Is()], [ast.Constant(None)]),
            [ast.Assign([store("__gradgen_backward")], ast.Call(load("__gradgen_compile_for"), [load("__gradgen_key"), arguments], []), lineno=0)],
            [],
        ),
        ast.Expr(ast.Call(load("__gradgen_remember"), [arguments, load("__gradgen_backward")], [])),
        call,
    ]
    function = ast.FunctionDef(name, signature.arguments, body, [], None, None, lineno=0)
    return ast.fix_missing_locations(ast.Module([function], []))
