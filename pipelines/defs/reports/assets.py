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
    partition_key,
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
    # A backfill of many teams is one run (one process reading the warehouse), not one per team.
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def team_report(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """One team's page: every metric over time with its trend and test, the lead-time
    breakdown, deployments and incidents, SLOs and data coverage. Refresh one team alone by
    materialising its partition; a backfill of several teams writes them in one run."""
    config = dora.load()
    teams = report_teams(config)
    reports = [build_team_report(config, team_of_key(key, teams))
               for key in context.partition_keys]
    for report in reports:
        context.log.info(f"wrote {report.path}")
    if len(reports) > 1:  # a backfill run of several teams: what each page says is in its run
        return dg.MaterializeResult(metadata={
            "pages": dg.MetadataValue.md("\n".join(f"- {r.path}" for r in reports)),
            "team_count": len(reports)})
    (report,) = reports
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(report.path)),
        "team": dg.MetadataValue.text(team_of_key(context.partition_key, teams)),
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
    _add_team_partitions(context.instance, config)
    index = build_index(config)
    context.log.info(f"wrote {index.path}")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(index.path)),
        "teams": dg.MetadataValue.md(index.markdown()),
        "organisation": dg.MetadataValue.md("\n".join(f"- {s}" for s in index.org_trends)),
        "team_count": len(index.teams),
    })


def _add_team_partitions(instance: dg.DagsterInstance, config) -> None:
    """A `teams` partition for every team with a page, so the automation writes new teams'
    pages at its next evaluation (the `team_partitions` sensor does the same, more slowly)."""
    known = set(instance.get_dynamic_partitions(PARTITIONS))
    missing = [k for k in (partition_key(t) for t in report_teams(config)) if k not in known]
    if missing:
        instance.add_dynamic_partitions(PARTITIONS, missing)
