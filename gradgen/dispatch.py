"""Dispatch: one backward function per (type, shape, dtype) of the arguments, compiled on first use.

The generic backward is correct for every shape: where it cannot know whether numpy broadcast
an argument, it calls ``runtime`` helpers that find out at run time. When the arguments are
arrays, the function gradgen returns is a small emitted dispatcher: it looks the arguments'
shapes and dtypes up in a cache and calls the backward specialized for them, compiling it the
first time (``stamping.stamp_shapes`` -> ``passes.specialize`` -> ``passes.optimize`` ->
``passes.records`` -> emit), like a jit. Where specialization cannot decide something, the generic function is used.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

import numpy as np

from gradgen import emit, passes, shapes, stamping
from gradgen.ir import Graph, verify
from gradgen.passes.records import drop_unread_records
from gradgen.passes.specialize import specialize

_MAX_SPECIALIZATIONS = 64

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
        try:
            graph = stamping.stamp_shapes(self.graph, arguments)
        except shapes.ShapeError:
            graph = None
        if graph is not None:
            graph = passes.optimize(specialize(graph), check=self.verify_passes)
            graph = drop_unread_records(graph)  # values read only for their shapes are no longer recorded
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


def key_of(argument: Any) -> tuple[Any, Any]:
    """The shape and dtype of an argument that is not an ndarray (None for a Python number)."""
    return getattr(argument, "shape", None), getattr(argument, "dtype", None)


def dispatcher_module(name: str, signature: emit.Signature, keyed: tuple[int, ...]) -> ast.Module:
    """``def name(<signature>)``: look up the specialization by the arguments' key and call it.

    Its free names (``__gradgen_cache``, ``__gradgen_compile_for``, ``__gradgen_ndarray``,
    ``__gradgen_key_of``) are bound by the caller's namespace; the prefix keeps them apart from
    parameter names.
    """
    names = signature.parameter_names
    key_parts: list[ast.expr] = []
    for i in keyed:
        # (x.__class__, (x.shape, x.dtype) if x.__class__ is ndarray else key_of(x)): attribute
        # loads for arrays, the common case, and a call for anything else.
        argument = ast.Name(names[i], ast.Load())
        kind = ast.Attribute(argument, "__class__", ast.Load())
        is_array = ast.Compare(kind, [ast.Is()], [ast.Name("__gradgen_ndarray", ast.Load())])
        array_key = ast.Tuple([ast.Attribute(argument, "shape", ast.Load()), ast.Attribute(argument, "dtype", ast.Load())], ast.Load())
        other_key = ast.Call(ast.Name("__gradgen_key_of", ast.Load()), [argument], [])
        key_parts += [kind, ast.IfExp(is_array, array_key, other_key)]
    arguments = ast.Tuple([ast.Name(n, ast.Load()) for n in names], ast.Load())
    positional = [ast.Name(a.arg, ast.Load()) for a in [*signature.arguments.posonlyargs, *signature.arguments.args]]
    keywords = [ast.keyword(a.arg, ast.Name(a.arg, ast.Load())) for a in signature.arguments.kwonlyargs]
    body = [
        ast.Assign([ast.Name("__gradgen_key", ast.Store())], ast.Tuple(key_parts, ast.Load()), lineno=0),
        ast.Assign(
            [ast.Name("__gradgen_backward", ast.Store())],
            ast.Call(ast.Attribute(ast.Name("__gradgen_cache", ast.Load()), "get", ast.Load()), [ast.Name("__gradgen_key", ast.Load())], []),
            lineno=0,
        ),
        ast.If(
            ast.Compare(ast.Name("__gradgen_backward", ast.Load()), [ast.Is()], [ast.Constant(None)]),
            [
                ast.Assign(
                    [ast.Name("__gradgen_backward", ast.Store())],
                    ast.Call(ast.Name("__gradgen_compile_for", ast.Load()), [ast.Name("__gradgen_key", ast.Load()), arguments], []),
                    lineno=0,
                )
            ],
            [],
        ),
        ast.Return(ast.Call(ast.Name("__gradgen_backward", ast.Load()), positional, keywords)),
    ]
    function = ast.FunctionDef(name, signature.arguments, body, [], None, None, lineno=0)
    return ast.fix_missing_locations(ast.Module([function], []))
