"""The Dagster code location: everything under `pipelines/defs/`."""

from pathlib import Path

import dagster as dg

from pipelines.defs.policies import apply_policies


@dg.definitions
def defs() -> dg.Definitions:
    """Load every asset, check, sensor, job and resource of the `defs/` folder, with the
    automation, ownership and freshness policies of `pipelines.defs.policies`."""
    return apply_policies(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
