"""Emit: a graph -> the Python source of one flat function, built as an ``ast`` and unparsed.

Guarantees: one assignment per equation, in graph order, except compiler temporaries read
once, which are inlined into their reader (up to a nesting depth, to keep lines readable);
user-named values keep their names and SSA versions get suffixes (``a``, ``a_1``), a name is
reused for a new version of the same variable once the old one is dead (which reads like the
textbook's ``grad_x = grad_x + ...``), temporaries read more than once are ``t0``, ``t1``...;
module names (``math``, ``np``, ``runtime``) are imported at the top under names no value
uses. Backward statements carry a comment naming the source line they differentiate.

Each equation is spelled as an expression by ``emit_expressions.py``; every name comes from
the one naming helper in ``emit_names.py``. Branches and loops become Python ``if`` and ``for``
statements (see ``emit_blocks.py``); names are chosen over all statements in textual order,
nested blocks included. An equation that writes into an existing array (``out=``, from
``passes/buffers.py``) is spelled with ``out=`` or as ``a += b`` (see ``emit_in_place.py``),
and is never inlined, nor moved across.

Item writes: an ``index_set`` that ``passes/in_place.py`` marks ``in_place`` is the statement
``x[key] = v`` and its result keeps ``x``'s name; any other is ``runtime.index_set`` (a copy). A
value read before such a write is never inlined past it, and a view it marks ``copy`` is
``x[key].copy()``.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from typing import Mapping, Union

from gradgen.emit_blocks import (
    BlockEmission,
    _all_equations,
    _events,
    _IfEnd,
    _Loop,
    _LoopPop,
    _Statement,
    _unique_ids,
)
from gradgen.emit_expressions import ExpressionSpelling
from gradgen.emit_in_place import assignment, not_across_writes
from gradgen.emit_names import Names, builtin_names, import_statement
from gradgen.errors import SourceLocation
from gradgen.item_writes import VIEW_OPS
from gradgen.ir import (
    Atom,
    Equation,
    Graph,
    Value,
    loop_layout,
    uses,
)
from gradgen.ops import OPS
from gradgen.passes.in_place import mark_in_place, overwritten

Layout = Union[int, tuple["Layout", ...]]

_MAX_INLINE_DEPTH = 12
_COMMENT = "__gradgen_comment_{}__"


@dataclass(frozen=True)
class Signature:
    """The emitted function's parameters: the user's ``ast.arguments`` without annotations."""

    arguments: ast.arguments
    parameter_names: tuple[str, ...]  # in the order of the graph's inputs
    seed_index: int | None = None  # vjp: the position of the cotangent parameter


class _Emitter(ExpressionSpelling, BlockEmission):
    def __init__(
        self, graph: Graph, signature: Signature, layout: Layout, function_name: str, fresh_outputs: Mapping[int, int], guard: tuple[str, ...] = ()
    ):
        self.graph = graph
        self.guard = guard
        self.signature = signature
        self.fresh_outputs = fresh_outputs
        self.returned: set[int] = set()
        self.input_ids = {v.id for v in graph.inputs}
        # Reads by equations and by the returned layout (forward outputs it leaves out are
        # still computed, for their errors, but not returned).
        self.use_counts: dict[int, int] = {}
        self.producer: dict[int, Equation] = {}
        self.inlined: set[int] = set()
        self.aliases: dict[int, Atom] = {}  # a branch's inputs: the cond's operands
        # a loop body's result -> (the loop output named like it, the body input it replaces)
        self.carried_targets: dict[int, tuple[int, int]] = {}
        self.imports: dict[str, str] = {}
        self.names = Names(signature.parameter_names, {function_name} | builtin_names(_all_equations(graph), signature.parameter_names))
        self.value_names: dict[int, str] = {v.id: v.name for v in graph.inputs}
        self.output_ids = {a.id for a in graph.outputs if isinstance(a, Value)}
        self.prepare(Graph(graph.inputs, graph.equations, tuple(graph.outputs[i] for i in _indices(layout))))
        self.name_nodes: list[tuple[int, ast.Name]] = []
        self.comments: list[str] = []
        self.in_backward = False
        self.previous_description = ""
        self.previous_location: SourceLocation | None = None  # the one described last

    # -- which temporaries disappear into their reader ------------------------------------------

    def prepare(self, graph: Graph) -> None:
        """Count the reads of one scope's values and choose which of them to inline."""
        self.use_counts.update(uses(graph))
        for equation in graph.equations:
            for value in equation.outputs:
                self.producer[value.id] = equation
        self.inlined |= self._choose_inlined(graph)

    def _choose_inlined(self, graph: Graph) -> set[int]:
        inlined: set[int] = set()
        depth: dict[int, int] = {}
        # The output check reads its operand twice (see ``output_seed``): give it a name.
        checked = {a.id for eq in graph.equations if eq.op == "output_seed" for a in eq.inputs if isinstance(a, Value)}
        # What a branch reads is computed before the if (and may be read by both branches).
        checked |= {a.id for eq in graph.equations if eq.op == "cond" for a in eq.inputs[1:] if isinstance(a, Value)}
        # What a loop body reads is computed before the loop (once, not on every iteration).
        checked |= {
            a.id for eq in graph.equations if eq.op in ("loop", "while") for a in eq.inputs[loop_layout(eq).bounds + loop_layout(eq).carried :] if isinstance(a, Value)
        }
        # An array written in place is named where it is written (``out=t0``).
        checked |= {eq.inputs[eq.param("out")].id for eq in graph.equations if eq.param("out") is not None}  # type: ignore[union-attr, index]
        # An array written in place is a name, and so is the write (a statement, not an expression).
        written = overwritten(graph)
        checked |= written | {eq.output.id for eq in graph.equations if eq.param("in_place")}
        for equation in graph.equations:
            if OPS[equation.op].family == "control":
                continue
            value = equation.output
            inner = 0
            for atom in equation.inputs:  # a plain loop: this runs once per equation (compile time)
                if isinstance(atom, Value) and atom.id in inlined and depth[atom.id] > inner:
                    inner = depth[atom.id]
            depth[value.id] = inner + 1
            if (
                not value.name
                and value.id not in checked
                and self.use_counts.get(value.id, 0) == 1
                and not OPS[equation.op].effect
                and equation.param("out") is None
                and depth[value.id] <= _MAX_INLINE_DEPTH
            ):
                inlined.add(value.id)
        return not_across_writes(graph, inlined)

    # -- statements -----------------------------------------------------------------------------

    def function(self, name: str, layout: Layout) -> ast.Module:
        items = self.block(self.graph)
        return_reads: list[int] = []
        result = self.layout(layout, return_reads)

        # Statements in textual order (an if's test, its branches' statements and results, its
        # end), with the position of each value's last read.
        events = list(_events(items))
        last_use: dict[int, int] = {}
        for position, (_, reads) in enumerate(events):
            for value_id in reads:
                last_use[value_id] = position
        for value_id in return_reads:
            last_use[value_id] = len(events)

        parameters = {v.name: v.id for v in self.graph.inputs}
        for position, (item, _) in enumerate(events):
            if isinstance(item, _Statement) and item.stored is not None:
                item.target = self.overwrite(item.equation, last_use)
            elif isinstance(item, _Statement):
                item.target = self.target(item.equation.output, position, last_use, parameters, required=False)
            elif isinstance(item, _IfEnd):
                item.conditional.targets = [self.target(v, position, last_use, parameters, required=True) for v in item.conditional.equation.outputs]  # type: ignore[misc]
            elif isinstance(item, _Loop):
                self.name_loop(item, position, last_use, parameters)
            elif isinstance(item, _LoopPop):
                body = item.loop.equation.param("body")
                popped = body.inputs[len(body.inputs) - loop_layout(item.loop.equation).pops :]  # type: ignore[union-attr]
                item.loop.popped = [self.target(v, position, last_use, parameters, required=True) for v in popped]  # type: ignore[misc]
        for value_id, node in self.name_nodes:
            node.id = self.value_names[value_id]

        body: list[ast.stmt] = self._guard() if self.guard else []
        body += self.statements(items, top=True)
        body.append(ast.Return(result))
        function = ast.FunctionDef(
            name=name,
            args=self.signature.arguments,
            body=body,
            decorator_list=[],
            returns=None,
            type_comment=None,
            lineno=0,
        )
        imports = [import_statement(key, alias) for key, alias in sorted(self.imports.items())]
        return ast.Module(body=[*imports, function], type_ignores=[])

    def target(self, value: Value, position: int, last_use: dict[int, int], parameters: dict[str, int], *, required: bool) -> str | None:
        """The name ``value`` is assigned to (None: computed for its errors only, nothing reads it)."""
        carried = self.carried_targets.get(value.id)
        if carried is not None and carried[0] in self.value_names and last_use.get(carried[1], -1) <= position:
            # the next value of a carried variable, once its current value is no longer read
            self.value_names[value.id] = self.value_names[carried[0]]
            return self.value_names[value.id]
        producer = self.producer.get(value.id)
        buffer = producer.inputs[producer.param("out")] if producer is not None and producer.param("out") is not None else None  # type: ignore[index]
        unnamed = buffer is not None and not buffer.name and buffer.adjoint_of is None  # type: ignore[union-attr]
        if unnamed and not value.name and value.adjoint_of is None and buffer.id in self.value_names:  # type: ignore[union-attr]
            # a temporary written into a temporary's array takes its name (``t0 += b``); a
            # user's name is not given to another value
            name = self.value_names[buffer.id]  # type: ignore[union-attr]
            last_use[buffer.id] = max(last_use.get(buffer.id, -1), last_use.get(value.id, -1))  # a carried buffer keeps its name
            self.names.holder[name] = value.id
            self.names.temporary_values.add(value.id)
            self.value_names[value.id] = name
            return name
        hint = value.name
        if value.adjoint_of is not None and value.adjoint_of in self.value_names and value.adjoint_of not in self.names.temporary_values:
            hint = "grad_" + self.value_names[value.adjoint_of]  # grad_a_1 for a_1
        if not hint and value.id not in last_use and not required:
            return None
        if hint:
            target = self.names.versioned(hint, value.id, position, last_use, parameters)
        else:
            target = self.names.temporary()
            self.names.temporary_values.add(value.id)  # its adjoint is a temporary too, not grad_t0
        self.value_names[value.id] = target
        return target

    def assignment(self, target: str, equation: Equation, expression: ast.expr) -> list[ast.stmt]:
        return assignment(target, equation, expression)

    def overwrite(self, equation: Equation, last_use: dict[int, int]) -> str:
        """An in-place write ``x[key] = v``: its result is ``x`` again, under ``x``'s name. The
        name's holder (``x``, or the loop variable ``x`` is carried in) keeps it while the result
        is read, and the old ``x`` too (read for its shape: see passes/in_place.py)."""
        array, result = equation.inputs[0], equation.output
        name = self.value_names[array.id]  # type: ignore[union-attr]
        self.value_names[result.id] = name
        holder = self.names.holder.get(name)
        if holder is not None:
            last_use[holder] = max(last_use.get(holder, -1), last_use.get(result.id, -1), last_use.get(array.id, -1))  # type: ignore[union-attr]
        return name

    def in_place_write(self, equation: Equation, reads: list[int]) -> tuple[ast.expr, ast.expr]:
        """The target ``x[key]`` and the value of an ``index_set`` emitted in place."""
        array, value, *positions = (self.expression(a, reads) for a in equation.inputs)
        dynamic = iter(positions)
        entries = [self.key_entry(entry, dynamic, subscript=True) for entry in equation.param("key")]  # type: ignore[union-attr]
        key = entries[0] if len(entries) == 1 else ast.Tuple(entries, ast.Load())
        return ast.Subscript(array, key, ast.Store()), value

    def comments_before(self, equation: Equation) -> list[ast.stmt]:
        """The backward's header, and the source line of each backward statement, where it changes."""
        comments: list[ast.stmt] = []
        if not equation.forward and not self.in_backward:
            self.in_backward = True
            comments.append(self._comment(self.comments, "backward: adjoints in reverse order (grad_v = dL/dv)"))
        # the equations of one statement's backward share its location: described once
        if self.in_backward and equation.location is not None and equation.location is not self.previous_location:
            self.previous_location = equation.location
            description = _describe(equation.location)
            if description != self.previous_description:
                self.previous_description = description
                comments.append(self._comment(self.comments, description))
        return comments

    def _guard(self) -> list[ast.stmt]:
        """``if x.__class__ is not float ...: return __gradgen_fallback(...)``: the code below
        relies on these arguments being Python floats (see ``kinds.assumption_guard``)."""
        tests: list[ast.expr] = [
            ast.Compare(ast.Attribute(ast.Name(name, ast.Load()), "__class__", ast.Load()), [ast.IsNot()], [ast.Name("float", ast.Load())])
            for name in self.guard
        ]
        condition = tests[0] if len(tests) == 1 else ast.BoolOp(ast.Or(), tests)
        arguments = self.signature.arguments
        call = ast.Call(
            ast.Name("__gradgen_fallback", ast.Load()),
            [ast.Name(a.arg, ast.Load()) for a in [*arguments.posonlyargs, *arguments.args]],
            [ast.keyword(a.arg, ast.Name(a.arg, ast.Load())) for a in arguments.kwonlyargs],
        )
        comment = self._comment(self.comments, "arguments that are not Python floats take the general code, which checks the output")
        return [comment, ast.If(condition, [ast.Return(call)], [])]

    def layout(self, layout: Layout, reads: list[int]) -> ast.expr:
        if isinstance(layout, tuple):
            return ast.Tuple([self.layout(item, reads) for item in layout], ast.Load())
        atom = self.graph.outputs[layout]
        expression = self.expression(atom, reads)
        if layout in self.fresh_outputs and isinstance(atom, Value) and not atom.scalar:
            producer = self.producer.get(atom.id)
            passes_through = producer is not None and producer.op == "unbroadcast"  # may return its argument
            aliased = atom.id in self.returned or self.views_an_argument(atom) or (passes_through and atom.shape is None)
            self.returned.add(atom.id)
            argument = self.graph.inputs[self.fresh_outputs[layout]]
            if aliased and atom.shape is None:
                # runtime.owned(grad_b, b): copied, in b's dtype if that is a float one
                arguments = [expression] if argument.dtype is not None else [expression, ast.Name(argument.name, ast.Load())]
                return ast.Call(self.callee("runtime", "owned"), arguments, [])
            if aliased and atom.shape != ():
                expression = ast.Call(ast.Attribute(expression, "copy", ast.Load()), [], [])
            return self.in_argument_dtype(expression, atom, argument)
        return expression

    def in_argument_dtype(self, expression: ast.expr, gradient: Value, argument: Value) -> ast.expr:
        """The gradient of a float array (or numpy float) in the argument's dtype: numpy's
        promotion may have computed it wider (a float32 ``x`` times a float64 array, a bool mask
        times 1.0). Generic code does not know the dtypes and asks ``runtime.in_dtype_of``."""
        if argument.dtype is not None:
            if not argument.dtype.startswith("float") or gradient.dtype == argument.dtype:
                return expression  # a Python number, or an int or bool array: its gradient is a float
            if gradient.dtype is not None and not gradient.dtype.startswith("py:"):
                # copy=False: the stamped dtype is numpy's promotion in the generic code, which a
                # specialized rewrite may have narrowed already (1.0 * x32 stays float32)
                no_copy = ast.keyword("copy", ast.Constant(False))
                return ast.Call(ast.Attribute(expression, "astype", ast.Load()), [ast.Constant(argument.dtype)], [no_copy])
        # unknown dtypes (generic code), or a Python float for a numpy float: decided at run time
        return ast.Call(self.callee("runtime", "in_dtype_of"), [expression, ast.Name(argument.name, ast.Load())], [])

    def views_an_argument(self, value: Value) -> bool:
        """Whether ``value`` is an argument or may be a view of one (specialized code returns
        ``w.T``, ``w[:, :3]`` or ``w.reshape((2, 3))`` where a gradient is an argument reshaped)."""
        producer = self.producer.get(value.id)
        while producer is not None and producer.op in VIEW_OPS and not producer.param("copy") and isinstance(producer.inputs[0], Value):
            value = producer.inputs[0]
            producer = self.producer.get(value.id)
        return value.id in self.input_ids

    def _comment(self, comments: list[str], text: str) -> ast.stmt:
        comments.append(text)
        return ast.Expr(ast.Name(_COMMENT.format(len(comments) - 1), ast.Load()))


def _indices(layout: Layout) -> list[int]:
    if isinstance(layout, tuple):
        return [index for item in layout for index in _indices(item)]
    return [layout]


def _describe(location: SourceLocation) -> str:
    """``file.py:12: <statement>``, naming the user's line for code inlined from a helper."""
    outer = location.outermost
    text = f"{os.path.basename(outer.filename)}:{outer.line}: {outer.source_line.strip()}"
    if outer is not location:
        text += f"  [inlined from line {location.line}]"
    return text


def emit_source(
    graph: Graph, signature: Signature, *, name: str, layout: Layout, fresh_outputs: Mapping[int, int] | None = None, guard: tuple[str, ...] = ()
) -> str:
    """The source of ``def name(<signature>): ...`` computing ``graph`` and returning ``layout``.

    Outputs in ``fresh_outputs`` (the gradients: output position -> the position of the input
    they are the gradient of) are returned as arrays of their own: one that would alias an
    argument or another returned gradient is copied. The gradient of a float array has the
    array's dtype. With ``guard`` (parameter
    names), the function first hands any call where one of them is not a Python float to
    ``__gradgen_fallback``, which the caller binds.
    """
    emitter = _Emitter(_unique_ids(mark_in_place(graph)), signature, layout, name, fresh_outputs or {}, guard)
    module = emitter.function(name, layout)
    text = ast.unparse(module)  # unparsing reads no line numbers: none need filling in
    comments = emitter.comments

    def replace(match: re.Match[str]) -> str:
        return f"{match.group(1)}# {comments[int(match.group(2))]}"

    text = re.sub(r"^(\s*)__gradgen_comment_(\d+)__$", replace, text, flags=re.MULTILINE)
    return text + "\n"
