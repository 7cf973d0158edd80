"""Reports: one HTML page per team (partitioned by team) and the index, from the warehouse.

Both assets only read the warehouse (read-only), so they need no `duckdb` pool slot. Their
materialisation metadata carries the path of the page and a markdown table of what it says, so
a person in `dg dev` sees the figures without opening files.
"""


import dagster as dg

from pipelines.defs.resources import DoraResource
from pipelines.reports.run import (
    PARTITIONS,
    build_index,
    build_team_report,
    report_teams,
    team_of_key,
)

teams_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS)

REPORT_INPUTS = ["team_metrics", "org_metrics", "changes", "deployment_outcomes",
                 "incident_attributions", "slo_periods", "quarantine", "teams"]


@dg.asset(
    group_name="reports",
    partitions_def=teams_partitions,
    deps=REPORT_INPUTS,
    kinds={"html", "plotly"},
)
def team_report(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """One team's page: every metric over time with its trend and test, the lead-time
    breakdown, deployments and incidents, SLOs and data coverage. Refresh one team alone by
    materialising its partition."""
    config = dora.load()
    team = team_of_key(context.partition_key, report_teams(config))
    report = build_team_report(config, team)
    context.log.info(f"wrote {report.path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(report.path)),
        "team": dg.MetadataValue.text(team),
        "latest": dg.MetadataValue.md(report.markdown()),
        "trends": dg.MetadataValue.md("\n".join(f"- {s}" for s in report.trends)),
    })


@dg.asset(
    group_name="reports",
    deps=[team_report, "team_metrics", "org_metrics"],
    kinds={"html", "plotly"},
)
def report_index(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """The index page: teams in alphabetical order with each team's own direction of change,
    and the organisation's spread over teams without naming them. Never a ranking."""
    config = dora.load()
    index = build_index(config)
    context.log.info(f"wrote {index.path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(index.path)),
        "teams": dg.MetadataValue.md(index.markdown()),
        "organisation": dg.MetadataValue.md("\n".join(f"- {s}" for s in index.org_trends)),
        "team_count": len(index.teams),
    })
