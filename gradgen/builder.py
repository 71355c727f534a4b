"""GraphBuilder: appends equations in evaluation order, with fresh ids and scalar kinds.

Used by the parser, the reverse pass and the template instantiator. It infers, for each new
value, whether it is statically a scalar (from its op's family and its inputs), and can
hash-cons (return the existing value for a repeated ``(op, inputs, params)``), which makes
common-subexpression elimination linear in the size of the graph.
"""

from __future__ import annotations

from gradgen.errors import SourceLocation
from gradgen.ir import Atom, Constant, Equation, Graph, Params, Value, with_atoms
from gradgen.ops import OPS


def is_scalar(atom: Atom) -> bool:
    if isinstance(atom, Constant):
        return isinstance(atom.value, (int, float, bool))
    return atom.scalar


def result_is_scalar(op: str, inputs: tuple[Atom, ...], params: Params) -> bool:
    """Whether ``op(*inputs)`` is statically a scalar, from the op's family."""
    spec = OPS[op]
    family = spec.family
    if family == "math" or family == "scalar" or (params and dict(params).get("lib") == "math"):
        return True
    if family in ("elementwise", "linear"):
        return all(is_scalar(atom) for atom in inputs)
    if family == "reduction":
        params_dict = dict(params)
        return params_dict.get("axis") is None and not params_dict.get("keepdims", False)
    if family == "like_first":
        return is_scalar(inputs[0])
    if family == "like_last":
        return is_scalar(inputs[-1])
    if family == "shape":
        return dict(params).get("shape") == ()
    if family in ("array", "control"):
        return False
    raise AssertionError(f"unknown family {family!r}")


class GraphBuilder:
    def __init__(self, first_id: int = 0, hash_cons: bool = False, forward: bool = False):
        self.forward = forward
        self.equations: list[Equation] = []
        self._next_id = first_id
        self._hash_cons = hash_cons
        self._table: dict[tuple[str, tuple[Atom, ...], Params], Value] = {}
        self._used: set[int] = set()
        self._defined_at: dict[int, int] = {}

    @property
    def next_id(self) -> int:
        return self._next_id

    def skip_to(self, next_id: int) -> None:
        """Number new values from ``next_id`` on (past the ids a branch's builder used)."""
        self._next_id = max(self._next_id, next_id)

    def new_value(self, name: str = "", scalar: bool = False, adjoint_of: int | None = None) -> Value:
        value = Value(self._next_id, name, scalar, adjoint_of)
        self._next_id += 1
        return value

    def add(
        self,
        op: str,
        inputs: tuple[Atom, ...],
        params: Params = (),
        location: SourceLocation | None = None,
        name: str = "",
        adjoint_of: int | None = None,
    ) -> Value:
        key = (op, inputs, params)
        if self._hash_cons and not OPS[op].effect:
            existing = self._table.get(key)
            if existing is not None:
                return existing
        output = self.new_value(name, result_is_scalar(op, inputs, params), adjoint_of)
        self.append(Equation(op, inputs, (output,), params, location, self.forward))
        if self._hash_cons:
            self._table[key] = output
        return output

    def append(self, equation: Equation) -> None:
        for atom in equation.inputs:
            if isinstance(atom, Value):
                self._used.add(atom.id)
        for value in equation.outputs:
            self._defined_at[value.id] = len(self.equations)
        self.equations.append(equation)

    def defining(self, value: Value) -> Equation:
        """The equation appended so far that defines ``value``."""
        return self.equations[self._defined_at[value.id]]

    def replace(self, old: Equation, new: Equation) -> None:
        """Put ``new`` where ``old`` is (a forward loop that must now record for its backward)."""
        index = self._defined_at[old.outputs[0].id]
        assert self.equations[index] is old
        self.equations[index] = new
        for value in new.outputs:
            self._defined_at[value.id] = index

    def name(
        self,
        value: Atom,
        name: str,
        location: SourceLocation | None = None,
        *,
        adjoint_of: int | None = None,
        rename: bool = True,
    ) -> Value:
        """Give ``value`` a name: rename it if it is a fresh temporary nothing reads yet (and
        ``rename`` allows it), else add ``name = copy(value)``."""
        if rename and isinstance(value, Value) and self._is_fresh_temporary(value):
            index = self._defined_at[value.id]
            equation = self.equations[index]
            renamed = Value(value.id, name, value.scalar, adjoint_of)
            outputs = tuple(renamed if v.id == value.id else v for v in equation.outputs)
            self.equations[index] = with_atoms(equation, equation.inputs, outputs)
            if self._hash_cons:
                self._table[(equation.op, equation.inputs, equation.params)] = renamed
            return renamed
        return self.add("copy", (value,), location=location, name=name, adjoint_of=adjoint_of)

    def _is_fresh_temporary(self, value: Value) -> bool:
        return not value.name and value.id not in self._used and value.id in self._defined_at

    def finish(self, inputs: tuple[Value, ...], outputs: tuple[Atom, ...]) -> Graph:
        return Graph(inputs, tuple(self.equations), outputs)

