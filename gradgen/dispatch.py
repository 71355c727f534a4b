"""Dispatch: one backward function per (type, shape, dtype) of the arguments, compiled on first use.

The generic backward is correct for every shape: where it cannot know whether numpy broadcast
an argument, it calls ``runtime`` helpers that find out at run time. When the arguments are
arrays, the backward is specialized for their shapes and dtypes the first time it meets them
(``stamping.stamp_shapes`` -> ``passes.specialize`` -> ``passes.optimize`` -> ``passes.literals``
-> ``passes.records`` -> ``passes.buffers`` -> emit), like a jit. Where specialization cannot decide something, the
generic function is used.

The function the user holds runs, as its own code, the specialization of its latest call with a
guard at the top: a repeated call costs one Python call and, per array argument, a class, a
shape and a dtype test before the first line of the backward. Guarantees:

* the guard passes only for arguments of exactly the classes, shapes and dtypes the code was
  specialized for (an ndarray subclass, a numpy scalar, a Python number each has its own);
* any call the guard turns away goes to ``__gradgen_dispatch``, which looks the arguments' key
  up in the cache (compiling on a miss), makes that specialization the held function's code
  (``__code__``: the function object, its attributes, defaults and signature stay the same),
  and calls the unguarded backward, so a call never passes through a guard twice;
* arguments of any other class (lists, ndarray subclasses), or arrays whose dtype object is not
  numpy's canonical one of its type (``>f8``, metadata), are always looked up by key.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any, Callable

import numpy as np

from gradgen import emit, passes, shapes, stamping
from gradgen.collector import collector_paused
from gradgen.ir import Graph, verify
from gradgen.passes.buffers import reuse_buffers
from gradgen.passes.literals import float_literals
from gradgen.passes.records import drop_unread_records
from gradgen.passes.specialize import specialize

_MAX_SPECIALIZATIONS = 64

# Classes whose instances all share one key (a Python number, a numpy scalar type): the class
# alone decides the specialization, so the guard tests nothing else.
_KEYED_BY_CLASS = (bool, int, float, complex, np.generic)

# Free names of the emitted code, bound in the held function's globals; the prefix keeps them
# apart from parameter names and from the backward's own globals (module imports).
DISPATCH = "__gradgen_dispatch"
HELD = "__gradgen_function"
NDARRAY = "__gradgen_ndarray"

# (text, function name, globals) -> the function defined by the text, executed in those
# globals (a fresh namespace when None).
Loader = Callable[[str, str, dict[str, Any] | None], Any]
Entry = tuple[Any, Any]  # (the unguarded backward, the guarded code for the held function or None)


class Specializations:
    """The cache of specialized backward functions of one gradient."""

    def __init__(
        self,
        graph: Graph,
        signature: emit.Signature,
        name: str,
        layout: emit.Layout,
        gradients: dict[int, int],
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
        self.cache: dict[tuple[Any, ...], Entry] = {}
        self.sources: dict[tuple[Any, ...], str] = {}
        # Arguments proven scalar at compile time need no place in the key.
        self.keyed = tuple(i for i, value in enumerate(graph.inputs) if not value.scalar)
        # The held function's globals: the dispatcher, the guards' classes and dtypes, and
        # the imports of every guarded code (the same alias always names the same module).
        self.namespace: dict[str, Any] = {"__gradgen_cache": self.cache, "__gradgen_compile_for": self.compile_for, NDARRAY: np.ndarray, "__gradgen_key_of": key_of}
        self.guard_names: dict[int, tuple[Any, str]] = {}  # id of a class or dtype -> (it, its global name)

    def key(self, arguments: tuple[Any, ...]) -> tuple[Any, ...]:
        """The same key the emitted dispatcher builds (see ``dispatcher_module``)."""
        key: list[Any] = []
        for i in self.keyed:
            argument = arguments[i]
            kind = type(argument)
            key += [kind, (argument.shape, argument.dtype) if kind is np.ndarray else key_of(argument)]
        return tuple(key)

    def compile_for(self, key: tuple[Any, ...], arguments: tuple[Any, ...]) -> Entry:
        """The backward for these arguments' shapes (generic where it cannot specialize), and
        its guarded code for the held function."""
        function, source = self.generic, None
        with collector_paused():
            try:
                graph = stamping.stamp_shapes(self.graph, arguments)
            except shapes.ShapeError:
                graph = None
            if graph is not None:
                graph = float_literals(passes.optimize(specialize(graph), check=self.verify_passes))
                graph = drop_unread_records(graph)  # values read only for their shapes are no longer recorded
                graph = reuse_buffers(graph)
                verify(graph)
                source = emit.emit_source(graph, self.signature, name=self.name, layout=self.layout, fresh_outputs=self.gradients)
                function = self.load(source, self.name, None)
        if len(self.cache) >= _MAX_SPECIALIZATIONS:
            self.cache.clear()
            self.sources.clear()
        source = source or self.generic.source
        test = self.guard_test(key)
        code = None if test is None else self.load(guarded_source(source, self.name, test, self.signature), self.name, self.namespace).__code__
        self.cache[key] = function, code
        self.sources[key] = source
        return function, code

    def guard_test(self, key: tuple[Any, ...]) -> ast.expr | None:
        """``x.__class__ is ndarray and x.shape == (32, 8) and x.dtype is float64 and ...``
        for the keyed arguments; None where a class is neither ndarray nor decided by itself,
        or a dtype is not numpy's canonical one."""
        tests: list[ast.expr] = []
        for position, i in enumerate(self.keyed):
            argument = ast.Name(self.signature.parameter_names[i], ast.Load())
            kind, detail = key[2 * position], key[2 * position + 1]
            if kind is np.ndarray:
                shape, dtype = detail
                if dtype is not np.dtype(dtype.type):
                    # Not numpy's own dtype object of its type (another byte order, metadata,
                    # a string length): each call makes a new one, which no identity test
                    # would meet, and naming each would grow the globals without end.
                    return None
                tests += [
                    _is(ast.Attribute(argument, "__class__", ast.Load()), NDARRAY),
                    ast.Compare(ast.Attribute(argument, "shape", ast.Load()), [ast.Eq()], [ast.Constant(shape)]),
                    _is(ast.Attribute(argument, "dtype", ast.Load()), self.guard_name(dtype, f"dtype_{dtype.name}")),
                ]
            elif issubclass(kind, _KEYED_BY_CLASS):
                tests.append(_is(ast.Attribute(argument, "__class__", ast.Load()), self.guard_name(kind, f"class_{kind.__name__}")))
            else:
                return None
        return ast.BoolOp(ast.And(), tests) if len(tests) > 1 else tests[0]

    def guard_name(self, constant: Any, label: str) -> str:
        """The global name the guards compare ``constant`` with by identity."""
        if id(constant) not in self.guard_names:
            name = "__gradgen_" + re.sub(r"\W", "_", label)
            while name in self.namespace:
                name += "_"
            self.namespace[name] = constant
            self.guard_names[id(constant)] = constant, name
        return self.guard_names[id(constant)][1]

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


def _is(value: ast.expr, name: str) -> ast.expr:
    return ast.Compare(value, [ast.Is()], [ast.Name(name, ast.Load())])


def _forward(callee: str, signature: emit.Signature) -> ast.Return:
    """``return callee(<the parameters>)``: positional as declared, keyword-only by name."""
    arguments = signature.arguments
    positional = [ast.Name(a.arg, ast.Load()) for a in [*arguments.posonlyargs, *arguments.args]]
    keywords = [ast.keyword(a.arg, ast.Name(a.arg, ast.Load())) for a in arguments.kwonlyargs]
    return ast.Return(ast.Call(ast.Name(callee, ast.Load()), positional, keywords))


def guarded_source(source: str, name: str, test: ast.expr, signature: emit.Signature) -> str:
    """The backward ``source`` with ``if not (test): return __gradgen_dispatch(...)`` first.

    The guard's lines go after the ``def`` line (``ast.unparse`` writes a signature on one
    line), so the rest of the text, comments included, is the source ``source_for`` shows.
    """
    lines = source.splitlines(keepends=True)
    header = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    miss = ast.If(ast.UnaryOp(ast.Not(), test), [_forward(DISPATCH, signature)], [])
    lines.insert(header + 1, textwrap.indent(ast.unparse(miss), "    ") + "\n")
    return "".join(lines)


def dispatcher_module(name: str, signature: emit.Signature, keyed: tuple[int, ...]) -> ast.Module:
    """``def __gradgen_dispatch(<signature>)``: look the backward up by the arguments' key
    (compiling it the first time), make its guarded code the held function's, and call it;
    ``def name(<signature>)``, the held function's code until its first call, hands over to it.

    Its other free names (``__gradgen_cache``, ``__gradgen_compile_for``, ``__gradgen_ndarray``,
    ``__gradgen_key_of``, ``__gradgen_function``) are bound in ``Specializations.namespace``.
    """
    names = signature.parameter_names

    def load(name: str) -> ast.expr:
        return ast.Name(name, ast.Load())

    def store(name: str) -> ast.expr:
        return ast.Name(name, ast.Store())

    key_parts: list[ast.expr] = []
    for i in keyed:
        argument = load(names[i])
        argument_class = ast.Attribute(argument, "__class__", ast.Load())
        # (x.__class__, (x.shape, x.dtype) if x.__class__ is ndarray else key_of(x)): attribute
        # loads for arrays, the common case, and a call for anything else.
        is_array = ast.Compare(argument_class, [ast.Is()], [load(NDARRAY)])
        array_key = ast.Tuple([ast.Attribute(argument, "shape", ast.Load()), ast.Attribute(argument, "dtype", ast.Load())], ast.Load())
        other_key = ast.Call(load("__gradgen_key_of"), [argument], [])
        key_parts += [argument_class, ast.IfExp(is_array, array_key, other_key)]
    arguments = ast.Tuple([load(n) for n in names], ast.Load())
    entry = load("__gradgen_entry")
    body = [
        ast.Assign([store("__gradgen_key")], ast.Tuple(key_parts, ast.Load()), lineno=0),
        ast.Assign([store("__gradgen_entry")], ast.Call(ast.Attribute(load("__gradgen_cache"), "get", ast.Load()), [load("__gradgen_key")], []), lineno=0),
        ast.If(
            ast.Compare(entry, [ast.Is()], [ast.Constant(None)]),
            [ast.Assign([store("__gradgen_entry")], ast.Call(load("__gradgen_compile_for"), [load("__gradgen_key"), arguments], []), lineno=0)],
            [],
        ),
        ast.Assign([ast.Tuple([store("__gradgen_backward"), store("__gradgen_code")], ast.Store())], entry, lineno=0),
        ast.If(
            ast.Compare(load("__gradgen_code"), [ast.IsNot()], [ast.Constant(None)]),
            [ast.Assign([ast.Attribute(load(HELD), "__code__", ast.Store())], load("__gradgen_code"), lineno=0)],
            [],
        ),
        _forward("__gradgen_backward", signature),
    ]
    dispatcher = ast.FunctionDef(DISPATCH, signature.arguments, body, [], None, None, lineno=0)
    held = ast.FunctionDef(name, signature.arguments, [_forward(DISPATCH, signature)], [], None, None, lineno=0)
    return ast.fix_missing_locations(ast.Module([dispatcher, held], []))
