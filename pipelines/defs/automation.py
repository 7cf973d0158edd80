"""Schedules: the daily refresh of everything that is not partitioned."""

import dagster as dg

daily_refresh = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.groups("ingest", "warehouse", "metrics")
    - dg.AssetSelection.assets("github_landing"),
    description="Ingest every non-partitioned source, rebuild the warehouse and the metrics.",
)

daily_schedule = dg.ScheduleDefinition(
    name="daily_refresh_schedule", job=daily_refresh, cron_schedule="0 5 * * *",
    execution_timezone="UTC",
)
