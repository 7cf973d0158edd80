"""What the fuzz tests share: their Hypothesis settings and walking a generated document."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings


def fuzz_settings(examples: int, *also_suppress: HealthCheck) -> Any:
    """Settings of a fuzz test: `examples` cases (DORA_FUZZ_EXAMPLES=2000 fuzzes harder), the
    same cases on every run (derandomized, no example database: CI never flakes on a new
    seed), no deadline (CI runs on 2 busy cores)."""
    count = int(os.environ.get("DORA_FUZZ_EXAMPLES", str(examples)))
    return settings(max_examples=count, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           *also_suppress])


def paths_in(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a document of dicts and lists (keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_in(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths_in(value, (*prefix, index))
    return out
