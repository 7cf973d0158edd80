"""What every asset gets from one place: automation, owners, tags, freshness, lineage, code links.

`apply_policies` runs over the definitions `pipelines.definitions` loads from this folder, so an
asset added in any file (a new ingest source, a new metric table) is automated, owned, tagged and
linked to its code like the others without repeating it there.
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster._record import replace

from pipelines.build import CANONICAL
from pipelines.defs.automation import (
    FRESH_ASSETS,
    condition_for,
    freshness_window,
    owners,
)

INGEST_GROUP = "ingest"


def _with_policies(spec: dg.AssetSpec, ingest: list[dg.AssetKey]) -> dg.AssetSpec:
    group = spec.group_name or "default"
    updates: dict = {
        "tags": {**spec.tags, "dora/layer": group},
        "owners": list(spec.owners) or owners(),
    }
    # Partitioned ingest (one GitHub repository per partition) has its own sensor and schedule.
    if spec.automation_condition is None and not (
            group == INGEST_GROUP and spec.partitions_def is not None):
        condition = condition_for(group)
        if condition is not None:
            updates["automation_condition"] = condition
    if spec.key.to_user_string() in FRESH_ASSETS:
        updates["freshness_policy"] = dg.FreshnessPolicy.time_window(fail_window=freshness_window())
    # The tables built from the landing (not the config's teams, services and SLOs).
    if spec.key.to_user_string() in CANONICAL:
        known = {d.asset_key for d in spec.deps}
        updates["deps"] = [*spec.deps, *(k for k in ingest if k not in known)]
    return spec.replace_attributes(**updates)


def apply_policies(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with automation, owners, `dora/layer` tags, freshness, every ingest asset upstream
    of the landed tables, and links from each asset to its source code."""
    # A module that imports another's asset (github_fanout imports github_landing) makes the
    # folder loader list it twice; mapped separately, the two copies would clash.
    defs = replace(defs, assets=list({id(a): a for a in defs.assets or []}.values()))
    graph = defs.resolve_asset_graph()
    ingest = sorted(graph.asset_keys_for_group(INGEST_GROUP), key=lambda k: k.to_user_string())
    with warnings.catch_warnings():  # preview and beta APIs: what they give is worth it
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        mapped = defs.map_resolved_asset_specs(func=lambda spec: _with_policies(spec, ingest))
        linked = dg.with_source_code_references(list(mapped.assets or []))
    return replace(mapped, assets=linked)
