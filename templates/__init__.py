"""gradgen's derivative rules, one small plain-Python template per op.

A template's positional parameters are the op's inputs, then ``z`` (the op's output) and
``grad_z`` (its adjoint); keyword-only parameters are the op's static params (``axis``...).
The body assigns ``grad_<input>`` for every input, as the lectures write backprop. Calls in a
template name gradgen ops (``cos``, ``log``, ``expand_reduced``...), spelled with ``math`` or
``numpy`` to match the forward code. The reverse pass adds the broadcasting reductions, so no
rule needs to remember them. These files are read by gradgen, never imported and run.

``grad_x = None`` marks an input that gets no gradient (np.where's condition, an index).
A variadic op (np.concatenate, np.einsum) declares ``*xs`` for the inputs after its fixed
ones, then ``z, grad_z`` and its params as keyword-only parameters; ``grad_xs`` is
instantiated once per input, with ``i`` bound to its position in ``xs``. Templates may apply
the compile-time functions in ``rules.STATIC_FUNCTIONS`` to params (``inverse_permutation``).
"""
