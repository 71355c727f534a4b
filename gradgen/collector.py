"""Compiling with Python's cyclic garbage collector paused.

Compiling allocates many small, long-lived nodes (graphs, ast trees); with the collector on,
each full collection rescans all of them, which made compile time grow faster than the program
(a quarter of a 3000-statement compile). The compiler's own garbage is freed by reference
counting; the next collection after it takes whatever cycles remain. ``grad()`` and the first
call's shape specialization both compile under ``collector_paused()``.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the collector off, and turn it back on after (if it was on)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
