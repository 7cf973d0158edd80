"""Keeps the `teams` partitions of `team_report` in step with the teams in the warehouse."""


import dagster as dg

from pipelines.defs.reports.assets import teams_partitions
from pipelines.defs.resources import DoraResource
from pipelines.reports.run import PARTITIONS, partition_key, report_teams


@dg.sensor(
    name="team_partitions",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a `teams` partition for every team with records (or in the config), so "
                "each team's report can be materialised on its own.",
)
def team_partitions(context: dg.SensorEvaluationContext, dora: DoraResource):
    try:
        keys = [partition_key(t) for t in report_teams(dora.load())]
    except (FileNotFoundError, RuntimeError) as exc:  # no warehouse yet, or a writer holds it
        return dg.SkipReason(str(exc))
    known = set(context.instance.get_dynamic_partitions(PARTITIONS))
    missing = [k for k in keys if k not in known]
    if not missing:
        return dg.SkipReason("every team has its partition")
    return dg.SensorResult(dynamic_partitions_requests=[
        teams_partitions.build_add_request(missing)])
