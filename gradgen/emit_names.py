"""Names in the emitted function: one helper that knows every name already taken.

Guarantees: no two live values share a name, and no value takes the name of a parameter, of
the function itself, of a builtin the code calls (``float``, ``range``, ``len``...) or of a
module alias. A user's name keeps its spelling, with a suffix for later SSA versions
(``a``, ``a_1``), and is reused for a new version once the old one is dead; temporaries are
``t0``, ``t1``...; module aliases are ``math``, ``np``, ``runtime``, suffixed where a value
took the name.
"""

from __future__ import annotations

import ast
from typing import Iterable

from gradgen.ir import Equation
from gradgen.ops import OPS, Call

# The modules emitted code may use: key -> (module, preferred alias; None: the module's own name).
IMPORTS = {
    "math": ("math", None),
    "numpy": ("numpy", "np"),
    "runtime": ("gradgen.runtime", "runtime"),
    "builtins": ("builtins", None),
}


class Names:
    """Every name in the emitted function comes from here, so none can collide."""

    def __init__(self, parameters: tuple[str, ...], reserved: set[str]):
        self.holder: dict[str, int] = {}
        self.reserved = set(reserved)
        self.temporaries = 0
        self.temporary_values: set[int] = set()  # the ids of the values named t0, t1...
        for name in parameters:
            self.reserved.add(name)

    def module_alias(self, preferred: str) -> str:
        name, suffix = preferred, 0
        while name in self.reserved:
            suffix += 1
            name = f"{preferred}_{suffix}"
        self.reserved.add(name)
        return name

    def temporary(self) -> str:
        while f"t{self.temporaries}" in self.reserved or f"t{self.temporaries}" in self.holder:
            self.temporaries += 1
        name = f"t{self.temporaries}"
        self.temporaries += 1
        self.reserved.add(name)
        return name

    def versioned(self, hint: str, value_id: int, position: int, last_use: dict[int, int], parameters: dict[str, int]) -> str:
        suffix = 0
        while True:
            name = hint if suffix == 0 else f"{hint}_{suffix}"
            holder = self.holder.get(name, parameters.get(name))
            free = name not in self.reserved or name in parameters
            if free and (holder is None or last_use.get(holder, -1) <= position):
                self.holder[name] = value_id
                return name
            suffix += 1


def builtin_names(equations: Iterable[Equation], parameter_names: tuple[str, ...]) -> set[str]:
    """The builtins the emitted code calls, which no value may shadow (a parameter already does)."""
    names = {"float"}  # the output check and the argument guard test ``x.__class__ is float``
    for equation in equations:
        if equation.op == "loop":
            names |= {"range", "reversed"}
        spelling = OPS[equation.op].spelling
        if isinstance(spelling, Call):
            module, attribute = spelling.function_for(str(equation.param("lib", "numpy")))
            if module == "":
                names.add(attribute)
    return names - set(parameter_names)


def import_statement(key: str, alias: str) -> ast.stmt:
    """``import numpy as np``, ``from gradgen import runtime``: the import of a module key."""
    module, _ = IMPORTS[key]
    if key == "runtime":
        return ast.ImportFrom("gradgen", [ast.alias("runtime", None if alias == "runtime" else alias)], 0)
    return ast.Import([ast.alias(module, None if alias == module else alias)])
