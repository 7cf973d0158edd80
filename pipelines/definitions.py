"""The Dagster code location: everything under `pipelines/defs/`."""

from pathlib import Path

import dagster as dg

from pipelines.defs.executor import with_fanout_executor
from pipelines.defs.policies import apply_policies


@dg.definitions
def defs() -> dg.Definitions:
    """Load every asset, check, sensor, job and resource of the `defs/` folder, with the
    automation, ownership and freshness policies of `pipelines.defs.policies` and the fan-out
    executor of `$DORA_EXECUTOR`."""
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return with_fanout_executor(apply_policies(loaded))
