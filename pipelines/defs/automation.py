"""Declarative automation: the pipeline keeps every report fresh by itself (docs/operations.md).

- The ingest assets run on a cron (`DORA_INGEST_CRON`, default daily at 05:00 UTC).
- The warehouse rebuilds when an ingest asset landed something new: its condition looks at the
  ingest assets' data versions (a hash of what landed, see `pipelines.defs.versions`), so a
  night with nothing new stops there and rewrites no table.
- Everything downstream (metrics, reports) is eager on its parents: a new warehouse flows to the
  HTML in the same evaluation.

- Editing the config (teams, services, SLOs, settings) launches `refresh` (`config_changes`):
  nothing new may have landed, yet every table and page may read differently.

`automation` is the sensor that evaluates these conditions; it is RUNNING by default, so a fresh
`dg dev` (or `dagster-daemon run`) starts refreshing without anyone turning it on. Every run it
launches carries the tag `dora/writer=warehouse`, which `dagster.yaml` limits to one run at a
time: two refreshes queue whole instead of interleaving their steps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import dora_resource

DEFAULT_CRON = "0 5 * * *"
DEFAULT_FRESHNESS_HOURS = 36.0
DEFAULT_OWNERS = "team:dora-maintainers"
WRITER_TAG = {"dora/writer": "warehouse"}
# Groups whose assets are recomputed from their parents (the ingest group runs on the cron).
DOWNSTREAM_GROUPS = ("warehouse", "metrics", "reports")
FRESH_ASSETS = ("team_metrics", "report_index")


def ingest_cron() -> str:
    """The cron of the ingest assets: `$DORA_INGEST_CRON`, else daily at 05:00 UTC."""
    return os.environ.get("DORA_INGEST_CRON", "").strip() or DEFAULT_CRON


def freshness_window() -> dt.timedelta:
    """How old `team_metrics` and `report_index` may get before they count as stale."""
    hours = os.environ.get("DORA_FRESHNESS_HOURS", "").strip()
    return dt.timedelta(hours=float(hours) if hours else DEFAULT_FRESHNESS_HOURS)


def owners() -> list[str]:
    """Who answers for the assets (`$DORA_OWNERS`, comma-separated `team:…` or e-mails)."""
    raw = os.environ.get("DORA_OWNERS", "").strip() or DEFAULT_OWNERS
    return [o.strip() for o in raw.split(",") if o.strip()]


def ingest_condition(cron: str | None = None) -> dg.AutomationCondition:
    """Once per cron tick (after the tick, when no run of the asset is in progress)."""
    return dg.AutomationCondition.on_cron(cron or ingest_cron(), cron_timezone="UTC")


def on_new_data() -> dg.AutomationCondition:
    """Eager, but only on parents whose data version changed: an ingest run that landed
    nothing new keeps its data version, and nothing downstream runs."""
    changed = dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.data_version_changed()).with_label("any_deps_new_data")
    return (
        changed.since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("on_new_data")


def condition_for(group: str | None) -> dg.AutomationCondition | None:
    """The automation condition of an asset of `group` (None: no automation)."""
    if group == "ingest":
        return ingest_condition()
    if group == "warehouse":
        return on_new_data()
    if group in DOWNSTREAM_GROUPS:
        return dg.AutomationCondition.eager()
    return None


automation = dg.AutomationConditionSensorDefinition(
    "automation",
    target=dg.AssetSelection.all(),
    run_tags=WRITER_TAG,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Ingest on the cron, then warehouse, metrics and reports as soon as their "
                "inputs changed. One run writes the warehouse at a time (tag dora/writer).",
)

# Partitioned assets run per partition (their sensors, the schedule, backfills), not in `refresh`.
PARTITIONED = ("github_landing", "team_report")

refresh = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*PARTITIONED),
    tags=WRITER_TAG,
    description="Everything that is not partitioned, in one process: ingest, warehouse, metrics "
                "and the report index. The automation does this by itself, and the "
                "`config_changes` sensor launches it when the config file changes.",
)


@dg.sensor(
    name="config_changes",
    job=refresh,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches `refresh` when the config file's content changed (the landing may "
                "hold nothing new, yet teams, services, SLOs or settings did change).",
)
def config_changes(context: dg.SensorEvaluationContext):
    """A `refresh` run for each new content of the config file (its hash is the cursor). The
    first look only remembers the content: the cron and the automation cover what came before.
    The file is not parsed here: a config with a mistake still launches the run, which fails
    with the message that names it."""
    path = Path(dora_resource().config_path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return dg.SkipReason(f"the config {path} cannot be read ({exc.strerror})")
    if context.cursor == digest:
        return dg.SkipReason("the config is unchanged")
    first = context.cursor is None
    context.update_cursor(digest)
    if first:
        return dg.SkipReason("first look at the config: its content is remembered")
    return dg.RunRequest(tags={**WRITER_TAG, "dora/trigger": "config"})
