"""Building the warehouse: landing → canonical tables → derived metric tables.

Each `build_*` function reads what it needs from the warehouse, calls the pure `metrics`
functions, and replaces its tables in one transaction, so a reader never sees half a table and a
repeated build leaves the tables byte-identical. The Dagster assets call these one by one;
`build_all` runs them in order for scripts and tests.

They write the warehouse's working copy (`pipelines.warehouse.connect`). Each table carries, as
its DuckDB comment, the build of the canonical tables it was computed from; after every commit,
when every metric table comes from the current canonical build, the working copy is published
for readers (`pipelines.warehouse.publish`). A reader therefore never sees new deployments
beside metrics computed from the old ones, whichever asset a run stopped at.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import duckdb
import polars as pl

from metrics.codeowners import code_owner_changes
from metrics.compute import (
    RECORD_COLUMNS,
    Settings,
    compute_changes,
    compute_outcomes,
    compute_slo_periods,
    records_and_metrics,
    records_view_sql,
)
from metrics.delivery import Delivery
from metrics.ownership import OWNERSHIP_SCHEMA, reorganisations
from metrics.people import MEMBER_SCHEMA, author_team_changes
from metrics.schema import KEYS, SCHEMAS, utc
from metrics.views import change_view_metrics
from pipelines.config import DoraConfig, members_of_teams, team_of_service
from pipelines.landing import read_entity
from pipelines.sources.codeowners import load_codeowners, rules_table
from pipelines.sources.incidents.prometheus import file_slos
from pipelines.warehouse import connect, publish

CANONICAL = ("commits", "pull_requests", "deployments", "incidents", "sli_measurements",
             "quarantine")


def settings_of(config: DoraConfig) -> Settings:
    """The metric settings of a config."""
    return Settings(
        production_environments=list(config.production_environments),
        incident_attribution_window_hours=config.incident_attribution_window_hours,
        min_sample=config.min_sample,
    )


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame,
                order_by: tuple[str, ...] = ()) -> int:
    """Replace table `name` with `frame` (sorted by `order_by` for a stable byte layout)."""
    if order_by:
        frame = frame.sort(list(order_by), nulls_last=True)
    conn.register("_incoming", frame.to_arrow())
    try:
        conn.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')  # noqa: S608
    finally:
        conn.unregister("_incoming")
    return frame.height


def read_table(conn: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A whole warehouse table as polars."""
    frame = conn.sql(f'SELECT * FROM "{name}"').pl()  # noqa: S608 - our own table names
    if name in SCHEMAS:  # nested timestamps (reviews) need the full schema to be relabelled
        return frame.cast(SCHEMAS[name])
    return utc(frame)


def latest_by_key(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Upsert semantics: the last record per key wins (latest batch, then latest row)."""
    keys = list(KEYS[entity])
    return (
        frame.with_row_index("_row")
        .sort(["_batch", "_row"])
        .unique(subset=keys, keep="last", maintain_order=True)
        .drop("_batch", "_row")
    )


def config_tables(config: DoraConfig) -> dict[str, pl.DataFrame]:
    """`teams`, `services` and `slos` from the config file."""
    teams = pl.DataFrame(team_of_service(config), schema=OWNERSHIP_SCHEMA)
    services = pl.DataFrame(
        [{"service": s.name, "repo": s.repo, "image": s.image, "paths": s.paths}
         for s in config.services],
        schema={"service": pl.String, "repo": pl.String, "image": pl.String,
                "paths": pl.List(pl.String)},
    )
    slos = pl.DataFrame(
        [{"slo": s.name, "service": s.service, "objective": s.objective} for s in config.slos]
        + [{"slo": d.slo, "service": d.service, "objective": d.objective}
           for d in file_slos(config)],  # OpenSLO / Sloth files of prometheus sources
        schema={"slo": pl.String, "service": pl.String, "objective": pl.Float64},
    )
    return {"teams": teams, "services": services, "slos": slos}


def build_canonical(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """Rewrite the canonical and config tables from the landing; returns row counts."""
    counts: dict[str, int] = {}
    with _transaction(conn):
        for entity in CANONICAL:
            frame = latest_by_key(read_entity(config.landing_root, entity), entity)
            counts[entity] = write_table(conn, entity, frame, KEYS[entity])
        for name, frame in config_tables(config).items():
            counts[name] = write_table(conn, name, frame, (frame.columns[0], frame.columns[1]))
        _stamp(conn, counts, max((v for v in _builds(conn).values() if v is not None),
                                 default=0) + 1)
    publish_if_consistent(conn)
    return counts


@contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: a reader never sees half of a rewrite, a failure leaves the old tables."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (e.g. the disk is full) has rolled back already, and a second
        # error here would hide the first, which is the one that says what went wrong.
        with suppress(duckdb.Error):
            conn.execute("ROLLBACK")
        raise


def _tables(conn: duckdb.DuckDBPyConnection, *names: str) -> list[pl.DataFrame]:
    return [read_table(conn, n) for n in names]


def _replace(conn: duckdb.DuckDBPyConnection, tables: dict[str, tuple[pl.DataFrame, tuple]],
             after: Callable[[duckdb.DuckDBPyConnection], None] | None = None
             ) -> dict[str, int]:
    counts = {}
    builds = _builds(conn)  # before writing: the builds of the tables the frames came from
    with _transaction(conn):
        for name, (frame, order) in tables.items():
            counts[name] = write_table(conn, name, frame, order)
            # A table computed from one written just before it (a view's summary from its
            # rows) comes from that one's build.
            builds[name] = _derived_build(name, builds)
            _stamp(conn, [name], builds[name])
        if after is not None:  # in the same transaction: views over the new tables
            after(conn)
    publish_if_consistent(conn)
    return counts


# ---- lineage and publishing --------------------------------------------------------------------

CONFIG_TABLES = ("teams", "services", "slos")


@functools.cache
def derived_inputs() -> dict[str, tuple[str, ...]]:
    """The metric tables every published snapshot must have computed from its own canonical
    tables, and the tables each is computed from: every other warehouse table of the Dagster
    asset graph (`pipelines.asset_graph`, the one place lineage is declared) with its parents."""
    from pipelines.asset_graph import tables

    built_by_canonical = {*CANONICAL, *CONFIG_TABLES}
    return {name: inputs for name, inputs in tables().items() if name not in built_by_canonical}


def __getattr__(name: str) -> Any:
    # `DERIVED_INPUTS` reads the asset graph, which imports this module: resolved on first use.
    if name == "DERIVED_INPUTS":
        return derived_inputs()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_BUILD_NOTE = "dora: from canonical build "


def _builds(conn: duckdb.DuckDBPyConnection) -> dict[str, int | None]:
    """Every table of the warehouse and the canonical build it comes from (None: unknown)."""
    rows = conn.execute("SELECT table_name, comment FROM duckdb_tables() "
                        "WHERE database_name = current_database()").fetchall()
    out: dict[str, int | None] = {}
    for name, comment in rows:
        note = (comment or "").removeprefix(_BUILD_NOTE)
        out[name] = int(note) if comment and comment != note and note.isdigit() else None
    return out


def _canonical_build(builds: dict[str, int | None]) -> int | None:
    """The build the canonical tables share, or None when they do not share one."""
    found = {builds.get(t) for t in CANONICAL}
    return found.pop() if len(found) == 1 else None


def _derived_build(name: str, builds: dict[str, int | None]) -> int | None:
    """The canonical build a table computed now from the warehouse comes from: the oldest of
    its inputs' builds (None when one is unknown); the current build for a table computed from
    the config alone."""
    inputs = derived_inputs().get(name)
    if not inputs:
        return _canonical_build(builds)
    known = [b for t in inputs if (b := builds.get(t)) is not None]
    return min(known) if len(known) == len(inputs) else None


def _stamp(conn: duckdb.DuckDBPyConnection, names: Any, build: int | None) -> None:
    if build is None:
        return  # a fresh table has no comment: its build stays unknown
    for name in names:
        conn.execute(f"COMMENT ON TABLE \"{name}\" IS '{_BUILD_NOTE}{int(build)}'")


def is_consistent(conn: duckdb.DuckDBPyConnection) -> bool:
    """True when every metric table was computed from the canonical tables beside it."""
    builds = _builds(conn)
    canonical = _canonical_build(builds)
    return canonical is not None and all(builds.get(t) == canonical for t in derived_inputs())


def publish_if_consistent(conn: duckdb.DuckDBPyConnection) -> bool:
    """Publish the working copy for readers when it is consistent; True when published."""
    return is_consistent(conn) and publish(conn) is not None


def _services(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(conn, "services").select("service", "repo", "paths")


def _ownership(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(conn, "teams").cast(OWNERSHIP_SCHEMA)


def build_changes(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`changes`, `commit_deliveries` and `implicit_rollbacks`."""
    commits, prs, deployments = _tables(conn, "commits", "pull_requests", "deployments")
    delivery = compute_changes(commits, prs, deployments, _services(conn), _ownership(conn),
                               settings_of(config))
    return _replace(conn, {
        "changes": (delivery.changes, ("service", "delivered_at", "change_id")),
        "commit_deliveries": (delivery.commit_deliveries, ("service", "sha")),
        "implicit_rollbacks": (delivery.implicit_rollbacks, ("deployment_id",)),
    })


def build_outcomes(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`deployment_outcomes` and `incident_attributions`."""
    deployments, incidents, changes, deliveries, implicit = _tables(
        conn, "deployments", "incidents", "changes", "commit_deliveries", "implicit_rollbacks")
    delivery = Delivery(changes, deliveries, implicit, {})
    outcomes, attributions = compute_outcomes(deployments, incidents, delivery,
                                              _ownership(conn), settings_of(config))
    return _replace(conn, {
        "deployment_outcomes": (outcomes, ("service", "finished_at", "id")),
        "incident_attributions": (attributions, ("incident_id",)),
    })


def build_slo_periods(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`slo_periods` for both grains."""
    sli, slos = _tables(conn, "sli_measurements", "slos")
    periods = compute_slo_periods(sli, slos, _ownership(conn))
    return _replace(conn, {"slo_periods": (periods, ("slo", "grain", "period_start", "team"))})


def build_team_metrics(conn: duckdb.DuckDBPyConnection, config: DoraConfig,
                       org: bool = False) -> dict[str, int]:
    """`team_metrics` and its records `team_metric_records` (with `org=True`: `org_metrics`)
    for the grains week and month.

    Both tables come from the same record rows, written in one transaction with the
    `metric_records` view over them (docs/sql.md). The organisation's figures aggregate the
    same rows relabelled `all teams`, which is what the view shows for it.
    """
    outcomes, changes, incidents, slo_periods = _tables(
        conn, "deployment_outcomes", "changes", "incidents", "slo_periods")
    records, metrics = records_and_metrics(outcomes, changes, incidents, slo_periods,
                                           _ownership(conn), settings_of(config), org=org)
    if org or records is None:
        return _replace(conn, {"org_metrics": (metrics, ("grain", "period_start"))})
    return _replace(conn, {
        "team_metrics": (metrics, ("team", "grain", "period_start")),
        # Already in RECORD_COLUMNS order (records_and_metrics sorts them in DuckDB).
        "team_metric_records": (records.select(RECORD_COLUMNS), ()),
    }, after=lambda c: c.execute(records_view_sql()))


def build_reorganisations(conn: duckdb.DuckDBPyConnection, config: DoraConfig
                          ) -> dict[str, int]:
    """`reorganisations`: every dated hand-over of a service, for timeline markers."""
    events = reorganisations(_ownership(conn))
    return _replace(conn, {"reorganisations": (events, ("date", "service", "kind", "team"))})


def build_people_view(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """The people view: `team_members`, `changes_by_author_team`, `team_metrics_by_people`.

    A different view from `team_metrics` (author's team, not service owner's). Without any
    `members` in the config the view is off and its tables are empty.
    """
    members = pl.DataFrame(members_of_teams(config), schema=MEMBER_SCHEMA)
    (changes,) = _tables(conn, "changes")
    if members.height == 0:
        changes = changes.clear()
    by_author = author_team_changes(changes, members)
    metrics = change_view_metrics(by_author, "author_team", config.min_sample)
    return _replace(conn, {
        "team_members": (members, ("team", "person", "valid_from")),
        "changes_by_author_team": (by_author, ("author_team", "delivered_at", "change_id",
                                               "service")),
        "team_metrics_by_people": (metrics, ("team", "grain", "period_start")),
    })


def build_code_owner_view(conn: duckdb.DuckDBPyConnection, config: DoraConfig
                          ) -> dict[str, int]:
    """The code-owner view: `code_owner_rules`, `changes_by_code_owner`,
    `team_metrics_by_code_owner` (changes by the CODEOWNERS team of the files they changed)."""
    files = load_codeowners(config)
    changes, commits, prs = _tables(conn, "changes", "commits", "pull_requests")
    owners = {repo: (f.owners, f.aliases) for repo, f in files.items()}
    view = code_owner_changes(changes, commits, prs, _services(conn), owners)
    metrics = change_view_metrics(view, "code_owner_team", config.min_sample)
    return _replace(conn, {
        "code_owner_rules": (rules_table(files), ("repo", "line")),
        "changes_by_code_owner": (view, ("code_owner_team", "delivered_at", "change_id",
                                         "service")),
        "team_metrics_by_code_owner": (metrics, ("team", "grain", "period_start")),
    })


def build_all(config: DoraConfig) -> dict[str, Any]:
    """Every table, in dependency order, without Dagster (for scripts and tests)."""
    return {**build_warehouse(config), **compute_metrics(config)}


def build_warehouse(config: DoraConfig) -> dict[str, int]:
    """Only the canonical tables (landing → warehouse)."""
    conn = connect(config.warehouse_path)
    try:
        return build_canonical(conn, config)
    finally:
        conn.close()


def compute_metrics(config: DoraConfig) -> dict[str, int]:
    """Every derived table from the canonical tables already in the warehouse."""
    conn = connect(config.warehouse_path)
    counts: dict[str, int] = {}
    try:
        counts.update(build_changes(conn, config))
        counts.update(build_outcomes(conn, config))
        counts.update(build_slo_periods(conn, config))
        counts.update(build_team_metrics(conn, config))
        counts.update(build_team_metrics(conn, config, org=True))
        counts.update(build_reorganisations(conn, config))
        counts.update(build_people_view(conn, config))
        counts.update(build_code_owner_view(conn, config))
    finally:
        conn.close()
    return counts


