"""Asset checks on what the numbers rely on.

Each check explains itself in its description and shows the offending records in metadata.

Two kinds:
- **blocking** (`blocking=True`, severity ERROR): the input is so wrong that a metric computed
  from it would be wrong, not merely incomplete. A failure stops the assets downstream in the run,
  so nothing is computed from it, and the warehouse readers see stays the last consistent one
  (see `pipelines.warehouse`): a wrong number is never published.
- **warning** (severity WARN): the numbers stand, but rest on a visibly incomplete picture.

Checks read the warehouse's working copy (`latest=True`): the tables the run has just built,
before they are published.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
import polars as pl

from pipelines.defs.resources import DoraResource
from pipelines.markdown import markdown_table
from pipelines.warehouse import connect, scalar

QUARANTINE_SHARE_LIMIT = 0.05
# "Most": above this share of unknown revisions (or negative lead times), the check blocks.
BLOCKING_SHARE = 0.5
EXAMPLES = 20


@contextmanager
def _latest(dora: DoraResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working copy, read-only: what this run built, published or not."""
    conn = connect(dora.load().warehouse_path, read_only=True, latest=True)
    try:
        yield conn
    finally:
        conn.close()


def _md(frame: pl.DataFrame, limit: int = EXAMPLES) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(frame.head(limit).rows(), frame.columns))


@dg.asset_check(asset="quarantine", pool="duckdb", description=(
    "Warning. Share of records quarantined as bad input. Above 5% the metrics rest on a visibly "
    "incomplete picture: fix the input named in the quarantine table."))
def quarantine_share(dora: DoraResource) -> dg.AssetCheckResult:
    with _latest(dora) as conn:
        bad = scalar(conn, "SELECT count(*) FROM quarantine")
        good = scalar(conn,
            "SELECT (SELECT count(*) FROM commits) + (SELECT count(*) FROM pull_requests) "
            "+ (SELECT count(*) FROM deployments) + (SELECT count(*) FROM incidents) "
            "+ (SELECT count(*) FROM sli_measurements)")
        sample = conn.sql("SELECT file, line, entity, field, reason FROM quarantine "
                          "ORDER BY file, line LIMIT 10").pl()
    share = bad / (bad + good) if bad + good else 0.0
    return dg.AssetCheckResult(
        passed=share <= QUARANTINE_SHARE_LIMIT,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{bad} of {bad + good} records quarantined ({share:.1%}).",
        metadata={"quarantined": bad, "loaded": good, "share": round(share, 4),
                  "examples": _md(sample)},
    )


@dg.asset_check(asset="changes", pool="duckdb", description=(
    "Warning. Changes whose delivery is before their start (negative lead time). They are "
    "excluded from the lead-time statistics; usually a clock or timezone problem in the input."))
def negative_lead_times(dora: DoraResource) -> dg.AssetCheckResult:
    with _latest(dora) as conn:
        bad = conn.sql("SELECT change_id, service, started_at, delivered_at, lead_time_hours "
                       "FROM changes WHERE negative_lead_time ORDER BY change_id").pl()
    return dg.AssetCheckResult(
        passed=bad.height == 0, severity=dg.AssetCheckSeverity.WARN,
        description=f"{bad.height} change(s) with a negative lead time.",
        metadata={"count": bad.height, "examples": _md(bad, 10)},
    )


@dg.asset_check(asset="deployments", pool="duckdb", description=(
    "Warning. Deployments and incidents whose service is not in the config. They count under "
    "the team `unassigned` until the config maps them."))
def unmapped_services(dora: DoraResource) -> dg.AssetCheckResult:
    with _latest(dora) as conn:
        bad = conn.sql(
            "SELECT service, count(*)::BIGINT AS records FROM ("
            "  SELECT service FROM deployments UNION ALL SELECT service FROM incidents"
            ") WHERE service NOT IN (SELECT service FROM services) "
            "GROUP BY service ORDER BY records DESC, service").pl()
    return dg.AssetCheckResult(
        passed=bad.height == 0, severity=dg.AssetCheckSeverity.WARN,
        description=f"{bad.height} service name(s) not in the config.",
        metadata={"services": bad.height, "examples": _md(bad)},
    )


# Counted deployments (docs/metrics.md: success, to production) of services whose repo has commit
# graph data, and whether their revision is one of that repo's commits. In time mode (a repo
# whose commits carry no parents) the revision decides nothing, so those are left out.
_REVISIONS_SQL = """
    WITH graph_repos AS (
        SELECT DISTINCT repo FROM commits WHERE len(coalesce(parents, [])) > 0
    ), counted AS (
        SELECT d.id, d.service, d.revision, d.finished_at, s.repo
        FROM deployments d JOIN services s USING (service)
        WHERE d.status = 'success' AND lower(d.environment) IN (SELECT unnest($environments))
          AND s.repo IN (SELECT repo FROM graph_repos)
    )
    SELECT c.*, EXISTS (SELECT 1 FROM commits m WHERE m.repo = c.repo AND m.sha = c.revision)
           AS known
    FROM counted c
"""


@dg.asset_check(asset="deployments", pool="duckdb", blocking=True, description=(
    "Blocking. Counted deployments (successful, to production) whose revision is not a commit "
    "of their service's repo, for repos with commit graph data. Lead time follows the commit "
    "graph from each deployment's revision: when most revisions are unknown (short SHAs, a tag "
    "instead of a SHA, commits of another repo, or history missing from the clone), the few "
    "known ones collect every change and the lead times would be wrong. Fails above 50%; the "
    "metrics are then not computed and the last good warehouse stays published."))
def deployments_with_known_revision(dora: DoraResource) -> dg.AssetCheckResult:
    config = dora.load()
    environments = [e.lower() for e in config.production_environments]
    with _latest(dora) as conn:
        rows = conn.sql(_REVISIONS_SQL, params={"environments": environments}).pl()
    unknown = rows.filter(~pl.col("known"))
    share = unknown.height / rows.height if rows.height else 0.0
    per_service = (
        rows.group_by("service")
        .agg(pl.len().alias("deployments"), (~pl.col("known")).sum().alias("unknown"))
        .with_columns((pl.col("unknown") / pl.col("deployments")).round(3).alias("share"))
        .sort(["unknown", "service"], descending=[True, False])
    )
    examples = unknown.sort("service", "finished_at", "id").select(
        "id", "service", "repo", "revision", "finished_at")
    return dg.AssetCheckResult(
        passed=share <= BLOCKING_SHARE,
        description=(f"{unknown.height} of {rows.height} counted deployments ({share:.0%}) name a "
                     "revision that is not a commit of their repo."
                     + ("" if share <= BLOCKING_SHARE else
                        " Most are unknown: the metrics are not computed from this data. Give "
                        "full commit SHAs, or complete the commit history.")),
        metadata={"checked_deployments": rows.height, "unknown_revisions": unknown.height,
                  "share": round(share, 4), "limit": BLOCKING_SHARE,
                  "per_service": _md(per_service), "examples": _md(examples)},
    )


@dg.asset_check(asset="changes", pool="duckdb", blocking=True, description=(
    "Blocking. Lead times are delivery minus start; when most delivered changes would have a "
    "negative lead time, the clocks or time zones of the input disagree (e.g. local times "
    "labelled UTC) and the few positive values left would make a wrong lead time. Fails above "
    "50%; the later metrics are then not computed and the last good warehouse stays "
    "published."))
def lead_time_sanity(dora: DoraResource) -> dg.AssetCheckResult:
    with _latest(dora) as conn:
        rows = conn.sql("SELECT change_id, service, started_at, delivered_at, lead_time_hours, "
                        "negative_lead_time FROM changes WHERE lead_time_hours IS NOT NULL").pl()
    negative = rows.filter(pl.col("negative_lead_time"))
    share = negative.height / rows.height if rows.height else 0.0
    per_service = (
        rows.group_by("service")
        .agg(pl.len().alias("changes"), pl.col("negative_lead_time").sum().alias("negative"))
        .sort(["negative", "service"], descending=[True, False])
    )
    return dg.AssetCheckResult(
        passed=share <= BLOCKING_SHARE,
        description=f"{negative.height} of {rows.height} delivered changes ({share:.0%}) have a "
                    "negative lead time.",
        metadata={"changes": rows.height, "negative": negative.height,
                  "share": round(share, 4), "limit": BLOCKING_SHARE,
                  "per_service": _md(per_service),
                  "examples": _md(negative.sort("service", "change_id").drop(
                      "negative_lead_time"))},
    )
