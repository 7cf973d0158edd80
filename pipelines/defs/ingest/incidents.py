"""Ingest: incidents and SLIs from PagerDuty, Jira, CDEvents files and Prometheus."""

import datetime as dt
from typing import Any

import dagster as dg

from pipelines.config import DoraConfig
from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import landing_run
from pipelines.sources.base import Tally, source_name
from pipelines.sources.incidents import cdevents, jira, pagerduty, prometheus
from pipelines.sources.incidents.common import SourceResult, TransientError, land, read_cursor

KINDS = ("pagerduty", "jira", "cdevents", "prometheus")
RETRIES, RETRY_WAIT = 2, 60.0  # step retries after a transient failure, seconds between


def sync_source(config: DoraConfig, source: Any, name: str,
                now: dt.datetime | None = None) -> SourceResult:
    """Read one incident/SLO source (incrementally where it keeps a cursor)."""
    known = {s.name for s in config.services}
    if source.kind == "cdevents":
        return cdevents.read_folder(config.resolve(source.path), name, known)
    cursor = read_cursor(config.landing_root, source.kind, name)
    if source.kind == "pagerduty":
        return pagerduty.sync(source, name, known, cursor, now)
    if source.kind == "jira":
        return jira.sync(source, name, known, cursor, now)
    return prometheus.sync(source, name, config, cursor, now)


@dg.asset(group_name="ingest", kinds={"python", "parquet"})
def incident_landing(context: dg.AssetExecutionContext,
                     dora: DoraResource) -> dg.MaterializeResult:
    """Incidents (PagerDuty, Jira, CDEvents), CDEvents deployments and Prometheus SLI windows
    of every such source of the config, landed with their quarantine rows; later runs fetch
    only what changed since the source's cursor."""
    config = dora.load()
    tally, batches, skipped = Tally(), 0, 0
    for index, source in enumerate(config.sources):
        if source.kind not in KINDS:
            continue
        name = source_name(source, index)
        context.log.info(f"reading {name} ({source.kind})")
        try:
            result = sync_source(config, source, name)
        except TransientError as exc:
            # Unreachable, or 5xx / 429 outlasting the clients' own retries: try the step again
            # later (sources already landed keep their cursors, so the retry is incremental).
            # A wrong token or a bad query fails at once.
            raise dg.RetryRequested(max_retries=RETRIES, seconds_to_wait=RETRY_WAIT) from exc
        with landing_run(context.run.run_id):
            batches += land(config.landing_root, source.kind, result)
        skipped += sum(1 for row in result.bad if row["field"] == "service")
        tally.add(result.tally)
    return with_landing_version(dg.MaterializeResult(
        metadata={**tally.as_metadata(), "new_batches": batches,
                  "unmapped_skipped": skipped, "reconciles": tally.reconciles}),
        config.landing_root, KINDS)
