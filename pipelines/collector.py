"""Python's cycle collector, kept out of the way of work that makes millions of objects.

A run makes millions of plain objects (parsed YAML, figure data, Dagster events) that are freed
by their reference counts; the cycle collector finds no cycles among them, yet their number sets
it off again and again, and each of its full passes walks every object of the process, the
tens of thousands that importing Dagster, polars and DuckDB made included.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The cycle collector off for the block (and on again after, if it was on before)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def imports_frozen() -> Iterator[None]:
    """Every object alive now (the imported modules, the loaded definitions) left out of the
    collector's passes for the block, and given back to it after. Long-lived objects cannot be
    garbage meanwhile; leaving them out makes each full pass of a run a fraction of the time
    (about half a second of a 1M-commit run, benchmarks/run_scale.py)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def leave_to_exit() -> None:
    """For a process about to exit: every object alive now is left out of the collector's
    passes from here on. The interpreter's shutdown runs the collector over everything the
    run left alive (the imports of Dagster, polars and DuckDB): about a second after a run
    (1.2 s, against 0.25 s frozen), to find nothing. The objects are still freed by their
    reference counts, and `atexit` handlers and `weakref.finalize` callbacks run as before.
    Not for a process that goes on working (a test, a notebook): it would keep them from
    ever being collected."""
    gc.freeze()
