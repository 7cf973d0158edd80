"""The Dagster code location: everything under `pipelines/defs/`."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Load every asset, check, schedule and resource of the `defs/` folder."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
