"""Asset checks on what the numbers rely on.

Each check explains itself in its description and shows the offending records in metadata.
"""

import dagster as dg

from pipelines.defs.resources import DoraResource
from pipelines.markdown import markdown_table
from pipelines.warehouse import scalar

QUARANTINE_SHARE_LIMIT = 0.05


@dg.asset_check(asset="quarantine", pool="duckdb", description=(
    "Share of records quarantined as bad input. Above 5% the metrics rest on a visibly "
    "incomplete picture: fix the input named in the quarantine table."))
def quarantine_share(dora: DoraResource) -> dg.AssetCheckResult:
    with dora.warehouse(read_only=True) as conn:
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
        metadata={"quarantined": bad, "loaded": good, "share": round(share, 4),
                  "examples": dg.MetadataValue.md(markdown_table(sample.rows(), sample.columns))},
    )


@dg.asset_check(asset="changes", pool="duckdb", description=(
    "Changes whose delivery is before their start (negative lead time). They are excluded from "
    "the lead-time statistics; usually a clock or timezone problem in the input."))
def negative_lead_times(dora: DoraResource) -> dg.AssetCheckResult:
    with dora.warehouse(read_only=True) as conn:
        bad = conn.sql("SELECT change_id, service, started_at, delivered_at, lead_time_hours "
                       "FROM changes WHERE negative_lead_time ORDER BY change_id").pl()
    return dg.AssetCheckResult(
        passed=bad.height == 0, severity=dg.AssetCheckSeverity.WARN,
        metadata={"count": bad.height,
                  "examples": dg.MetadataValue.md(
                      markdown_table(bad.head(10).rows(), bad.columns))},
    )


@dg.asset_check(asset="deployments", pool="duckdb", description=(
    "Deployments and incidents whose service is not in the config. They count under the team "
    "`unassigned` until the config maps them."))
def unmapped_services(dora: DoraResource) -> dg.AssetCheckResult:
    with dora.warehouse(read_only=True) as conn:
        bad = conn.sql(
            "SELECT service, count(*)::BIGINT AS records FROM ("
            "  SELECT service FROM deployments UNION ALL SELECT service FROM incidents"
            ") WHERE service NOT IN (SELECT service FROM services) "
            "GROUP BY service ORDER BY records DESC, service").pl()
    return dg.AssetCheckResult(
        passed=bad.height == 0, severity=dg.AssetCheckSeverity.WARN,
        metadata={"services": bad.height,
                  "examples": dg.MetadataValue.md(
                      markdown_table(bad.head(20).rows(), bad.columns))},
    )
