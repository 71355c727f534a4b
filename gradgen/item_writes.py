"""Item writes ``H[key] = v`` and ``H[key] += v`` into arrays the function created.

A write becomes one functional equation, ``H_1 = index_set(H, v, *positions, key=key)`` (a
copy of ``H`` with ``v`` written at ``key``), and the name ``H`` is rebound to ``H_1``.
``H[key] += v`` (also ``-= *= /= **=``) is the read-modify-write
``index_set(H, H[key] + v, key)``, which is numpy's own buffered semantics. Whether the
emitted code then copies or writes into ``H`` itself is the emitter's choice
(``passes/in_place.py``); the graph stays SSA.

numpy arrays are shared objects; SSA values are not. So that the graph means what the Python
means, the parser tracks which buffer each named value lives in (``Buffer``):

* the fresh result of a constructor, arithmetic or ``x.copy()`` has a buffer of its own;
* basic indexing, reshape, ``.T``, transpose, ravel, squeeze, expand_dims, broadcast_to, casts
  and plain name aliases (``u = H``) share the buffer of their operand (a *view*, except the alias);
* a parameter's buffer belongs to the caller (a helper's parameters to the helper's caller).

and guarantees, with a located error otherwise:

* a write goes into an array the function owns: never into a parameter or a view of one
  ("copy it first"), and never through a view (``r = H[0]; r[1] = 5`` is refused: write
  ``H[0, 1] = 5``);
* after a write into a buffer, reading any other name for its old contents (a view or alias
  taken earlier, ``r = H[0]``) is refused, because numpy would show the new contents there.
  Inside a loop that writes into ``H``, views of ``H`` taken before the loop are refused too
  (the second iteration sees the first one's writes).

Index keys are those of reads (see ``indexing.py``), lists of constant integers included:
``H[[0, 0]] += v`` is ``H[[0, 0]] = H[[0, 0]] + v``, where numpy keeps the last value written
to a repeated position (``runtime.written_gradient`` gives the others no gradient).
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Iterable

from gradgen import indexing
from gradgen.errors import UnsupportedSyntaxError
from gradgen.ir import Atom, Constant, Value

if TYPE_CHECKING:
    from gradgen.parse import FunctionLowering

# Ops whose result may share its first operand's memory (numpy returns a view, or the operand itself).
VIEW_OPS = frozenset({"index", "reshape", "ravel", "squeeze", "expand_dims", "transpose", "broadcast_to", "astype", "astype_discrete"})
_WRITE_HINT = "write into an array the function created (H = np.zeros(...), or x = x.copy() first)"


@dataclass(frozen=True)
class Buffer:
    """Where a named value's elements live. ``owners`` are opaque tokens, one per array
    allocation (several after an ``if`` whose branches assign different arrays); ``generation``
    grows with every write, so a value of an older generation of the same buffer is stale;
    ``view`` is True for a view into another array's buffer."""

    owners: frozenset[Hashable]
    generation: int = 0
    view: bool = False
    # The expression that made the value, for the hint that copies it: spelled only when an
    # error shows it (spelling it for every assignment was a twentieth of compile time).
    made_from: ast.expr | None = None

    @property
    def made_by(self) -> str:
        return ast.unparse(self.made_from) if self.made_from is not None else ""


@dataclass
class BufferTable:
    """Shared by a function and the helpers inlined into it: buffers by value id."""

    of: dict[int, Buffer] = field(default_factory=dict)
    tokens: Iterable[int] = field(default_factory=itertools.count)
    written_on: dict[int, int] = field(default_factory=dict)  # generation -> line of its write
    # Generations made by ``t += a`` on a name: numpy updates an array in place, which its views
    # see (an alias u = t is refused apart, at run time: statements.refuse_shared_update).
    updates: set[int] = field(default_factory=set)
    # The newest generation: a buffer at least this new has no newer write to be stale against,
    # which spares the scan of every name in scope on each read (compile time stays linear).
    latest: int = 0

    def new(self, generation: int = 0) -> Buffer:
        return Buffer(frozenset({next(self.tokens)}), generation)  # type: ignore[call-overload]

    def next_generation(self, line: int) -> int:
        generation = next(self.tokens)  # type: ignore[call-overload]
        self.written_on[generation] = line
        self.latest = generation
        return generation


class ItemWriteLowering:
    """Mixed into ``parse.FunctionLowering``: item writes, and the buffer tracking they need."""

    buffers: BufferTable
    # Buffers of the values this function received (its caller's arrays), by token: their names.
    caller_owners: dict[Hashable, str]

    def buffer_of(self: FunctionLowering, atom: Any) -> Buffer | None:
        """The buffer of a value (None for numbers, tuples, modules), from the equation that
        made it; values crossing an if or a loop are registered by ``join_buffers``."""
        if not isinstance(atom, Value):
            return None
        known = self.buffers.of.get(atom.id)
        if known is not None:
            return known
        try:
            equation = self.builder.defining(atom)
        except KeyError:  # made in another scope and never named: it cannot be written
            equation = None
        if equation is None:
            buffer = self.buffers.new()
        elif equation.op == "copy":  # u = H: the same array under another name
            buffer = self.buffer_of(equation.inputs[0]) or self.buffers.new()
        elif equation.op == "index" and any(isinstance(e, tuple) and e[0] == "list" for e in equation.param("key")):  # type: ignore[union-attr]
            buffer = self.buffers.new()  # x[[0, 2]] is a copy
        elif equation.op in VIEW_OPS or equation.op in ("cond", "loop", "while"):
            # a control-flow result not registered by join_buffers may be any of its operands
            sources = equation.inputs[:1] if equation.op in VIEW_OPS else equation.inputs
            buffer = _joined([self.buffer_of(a) for a in sources], self.buffers, view=True)
        else:
            buffer = self.buffers.new()
        self.buffers.of[atom.id] = buffer
        return buffer

    def register_caller_value(self: FunctionLowering, value: Any, name: str) -> None:
        """``value`` came from the caller (a parameter): writing into it is refused."""
        buffer = self.buffer_of(value)
        for owner in buffer.owners if buffer is not None else ():
            self.caller_owners.setdefault(owner, name)

    def name_buffer(self: FunctionLowering, value: Any, statement: ast.stmt) -> None:
        """Note the buffer of a value as it is bound to a name (in the scope that made it)."""
        buffer = self.buffer_of(value)
        single = isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
        if buffer is not None and single:
            self.buffers.of[value.id] = Buffer(buffer.owners, buffer.generation, buffer.view, statement.value)  # type: ignore[union-attr]

    def join_buffers(self: FunctionLowering, value: Value, sources: tuple[Any, ...], written: bool, line: int) -> None:
        """``value`` (an if's or a loop's result, a loop body's carried input) holds one of
        ``sources``; ``written``: the loop writes into it, so it is a newer generation."""
        buffer = _joined([self.buffer_of(a) for a in sources], self.buffers, view=False)
        if any(b is not None and b.view for b in map(self.buffer_of, sources)):
            buffer = Buffer(buffer.owners, buffer.generation, True)
        if written:
            buffer = Buffer(buffer.owners, self.buffers.next_generation(line), buffer.view)
        self.buffers.of[value.id] = buffer

    def check_current(self: FunctionLowering, value: Any, node: ast.Name) -> Any:
        """``value`` (read by name) unless a write since it was made changed its elements."""
        for atom in value if isinstance(value, tuple) else (value,):
            buffer = self.buffer_of(atom) if isinstance(atom, Value) else None
            if buffer is None or buffer.generation >= self.buffers.latest:
                continue
            newer = [
                b
                for b in map(self.buffer_of, _values(self.env.values()))
                if b is not None and b.owners & buffer.owners and b.generation > buffer.generation
                and (buffer.view or b.generation not in self.buffers.updates)
            ]
            if newer:
                generation = min(b.generation for b in newer)
                line = self.buffers.written_on.get(generation, 0)
                made_by = buffer.made_by or "..."
                self.fail(
                    UnsupportedSyntaxError,
                    node,
                    f"'{node.id}' shares the elements of an array written on line {line}, after '{node.id}' was made; numpy would show the new values here",
                    f"take a copy where you make it ({node.id} = {made_by}.copy()), or read it before the write",
                )
        return value

    def update_in_place(self: FunctionLowering, current: Any, result: Any, statement: ast.AugAssign) -> None:
        """``t += a`` changes an array ``t`` in place: the views taken of it before are stale."""
        buffer = self.buffer_of(current)
        if buffer is None or getattr(current, "scalar", True) or not isinstance(result, Value):
            return
        generation = self.buffers.next_generation(statement.lineno)
        self.buffers.updates.add(generation)
        self.buffers.of[result.id] = Buffer(buffer.owners, generation, buffer.view, buffer.made_from)

    def item_write(self: FunctionLowering, target: ast.Subscript, value: Any, statement: ast.stmt, operator: ast.operator | None = None) -> None:
        """``target = value`` (or ``target op= value``) for ``target`` = ``H[key]``: rebind ``H``."""
        if not isinstance(target.value, ast.Name):
            self.fail(
                UnsupportedSyntaxError,
                target,
                f"cannot write into {ast.unparse(target.value)}",
                "write into a named array with one index: H[i, j] = v (not H[i][j] = v)",
            )
        name = target.value.id
        array = self.name(target.value)
        if not isinstance(array, Value) or array.scalar:
            what = "a number" if isinstance(array, (Constant, Value)) else "not an array"
            self.fail(UnsupportedSyntaxError, target, f"'{name}' is {what}: only arrays take item assignment", _WRITE_HINT)
        buffer = self.buffer_of(array)
        assert buffer is not None
        callers = sorted(self.caller_owners[o] for o in buffer.owners if o in self.caller_owners)
        if callers:
            whose = f"the caller's array {callers[0]}" if not buffer.view else f"a view of the caller's array {callers[0]}"
            self.fail(
                UnsupportedSyntaxError,
                target,
                f"this writes into {whose}, which would change the caller's data",
                f"copy it first: {name} = {name}.copy()",
            )
        if buffer.view:
            self.fail(
                UnsupportedSyntaxError,
                target,
                f"'{name}' is a view into another array; writing into it writes into that array",
                f"write into that array itself (H[0, 1] = v for r = H[0]; r[1] = v), or take a copy: {name} = {buffer.made_by or name}.copy()",
            )
        key, dynamic = indexing.lower_key(self, target)
        location = self.location(statement)
        if operator is not None:
            current = self.builder.add("index", (array, *dynamic), (("key", key),), location)
            value = self.binary(operator, current, value, statement)
        written = self.atom(value, statement.value)  # type: ignore[attr-defined]
        result = self.builder.add("index_set", (array, written, *dynamic), (("key", key),), location)
        self.buffers.of[result.id] = Buffer(buffer.owners, self.buffers.next_generation(statement.lineno))
        self.bind(ast.copy_location(ast.Name(name, ast.Store()), target.value), result, statement)

    def refuse_stale_loop_carry(self: FunctionLowering, name: str, output: Any, node: ast.AST) -> None:
        """A loop that writes into ``name`` must end each iteration with ``name`` on an array of
        its own, which the next iteration may write into."""
        buffer = self.buffer_of(output)
        if buffer is None:
            return
        callers = [self.caller_owners[o] for o in buffer.owners if o in self.caller_owners]
        if callers or buffer.view:
            self.fail(
                UnsupportedSyntaxError,
                node,
                f"this loop writes into '{name}', which holds {'the caller' + chr(39) + 's array ' + callers[0] if callers else 'a view of another array'} at the end of an iteration",
                f"rebind {name} to a copy (.copy()) before the next iteration writes into it",
            )


def _joined(buffers: list[Buffer | None], table: BufferTable, *, view: bool) -> Buffer:
    known = [b for b in buffers if b is not None]
    if not known:
        return table.new()
    owners = frozenset().union(*(b.owners for b in known))
    return Buffer(owners, max(b.generation for b in known), view or any(b.view for b in known))


def _values(entries: Iterable[Any]) -> Iterable[Atom]:
    for entry in entries:
        if isinstance(entry, tuple):
            yield from _values(entry)
        elif isinstance(entry, Value):
            yield entry


def written_names(statements: list[ast.stmt]) -> set[str]:
    """The names ``statements`` write items of (``H`` for ``H[t] = h`` or ``H[t] += h``)."""
    return {
        node.value.id
        for statement in statements
        for node in ast.walk(statement)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name)
    }

