"""The people view: PR lead-time figures by the team of the PR's author (docs/ownership.md).

A different view from `team_metrics`, which follows the service owner; kept in its own tables.
"""


import dagster as dg

from pipelines.build import build_people_view
from pipelines.defs.resources import DoraResource


@dg.multi_asset(
    group_name="metrics",
    specs=[
        dg.AssetSpec("team_members", deps=["teams"], kinds={"duckdb"},
                     description="The config's `members`: person, team, from/until."),
        dg.AssetSpec("changes_by_author_team", deps=["changes", "pull_requests", "teams"],
                     kinds={"duckdb"},
                     description="PEOPLE VIEW: each delivered PR change with the team of its "
                                 "author at delivery (not the service owner)."),
        dg.AssetSpec("team_metrics_by_people", deps=["changes_by_author_team"],
                     kinds={"duckdb"},
                     description="PEOPLE VIEW: lead time and its breakdown per author team, "
                                 "week and month. Not comparable row-for-row with "
                                 "team_metrics, which follows service ownership."),
    ],
    pool="duckdb",
)
def people_view(dora: DoraResource):
    """Attributes PR changes to their author's team (config `teams[].members`, with dates)
    and summarises lead time and its breakdown per team and period."""
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_people_view(conn, config)
    for name, rows in counts.items():
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": rows})
