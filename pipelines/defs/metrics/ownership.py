"""Ownership views: reorganisations on the timeline, and changes by CODEOWNERS team."""


import dagster as dg

from pipelines.build import build_code_owner_view, build_reorganisations
from pipelines.defs.resources import DoraResource


@dg.asset(group_name="metrics", deps=["teams"], kinds={"duckdb"}, pool="duckdb")
def reorganisations(dora: DoraResource) -> dg.MaterializeResult:
    """Every dated hand-over of a service between teams (`joined` / `left`, with the team on
    the other side), for markers on a team's timeline."""
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_reorganisations(conn, config)
    return dg.MaterializeResult(metadata={"dagster/row_count": counts["reorganisations"]})


@dg.multi_asset(
    group_name="metrics",
    specs=[
        dg.AssetSpec("code_owner_rules", kinds={"duckdb"},
                     description="Every rule of each configured CODEOWNERS file with the teams "
                                 "its owners map to; skipped lines with the reason."),
        dg.AssetSpec("changes_by_code_owner",
                     deps=["changes", "commits", "pull_requests", "services"],
                     kinds={"duckdb"},
                     description="CODE-OWNER VIEW: each delivered change of a repo with a "
                                 "CODEOWNERS file, once per team owning a file it changed."),
        dg.AssetSpec("team_metrics_by_code_owner", deps=["changes_by_code_owner"],
                     kinds={"duckdb"},
                     description="CODE-OWNER VIEW: lead time and its breakdown per CODEOWNERS "
                                 "team, week and month."),
    ],
    pool="duckdb",
)
def code_owner_view(dora: DoraResource):
    """Reads each configured CODEOWNERS file (a path, or a git source's clone) and attributes
    delivered changes to the teams owning the files they changed."""
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_code_owner_view(conn, config)
    for name, rows in counts.items():
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": rows})
