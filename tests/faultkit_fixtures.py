"""The session fixture of the reliability tests: one uninterrupted run to compare against.

Enable with `pytest_plugins = ["faultkit_fixtures"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from faultkit import copy_inputs, make_inputs, run_to_end, table_checksums, warehouse_file


@dataclass
class Reference:
    """An input folder (never run in place), what an uninterrupted run of a copy gives, and
    what a second run of that copy gave (tables, and the landed batches before and after).
    `run` is that copy, warehouse included: copy it to start from a published warehouse."""

    template: Path
    run: Path
    checksums: dict[str, str]
    repeated: dict[str, str]
    batches: list[str]
    batches_repeated: list[str]


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The organisation of `faultkit.make_inputs`, run to the end on a copy, then again."""
    base = tmp_path_factory.mktemp("reference")
    template = base / "template"
    make_inputs(template)
    config = copy_inputs(template, base / "run")
    landing = config.parent / "data" / "landing"
    run_to_end(config)
    first, batches = table_checksums(warehouse_file(config)), _batches(landing)
    run_to_end(config)
    return Reference(template, config.parent, first, table_checksums(warehouse_file(config)),
                     batches, _batches(landing))


def _batches(landing: Path) -> list[str]:
    return sorted(str(p.relative_to(landing)) for p in landing.rglob("*.parquet"))
