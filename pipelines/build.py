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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import duckdb
import polars as pl

from metrics.codeowners import code_owner_changes
from metrics.compute import (
    Settings,
    compute_changes,
    compute_outcomes,
    compute_slo_periods,
    records_and_metrics,
    records_view_sql,
)
from metrics.delivery import COMMIT_COLUMNS, PR_COLUMNS, Delivery
from metrics.ownership import OWNERSHIP_SCHEMA, reorganisations
from metrics.people import MEMBER_SCHEMA, author_team_changes
from metrics.schema import KEYS, SCHEMAS, duckdb_arrow, utc
from metrics.views import change_view_metrics
from pipelines.config import DoraConfig, members_of_teams, team_of_service
from pipelines.landing import _digest, keep_newest
from pipelines.snapshot import landed_files, read_landed
from pipelines.sources.base import source_name
from pipelines.sources.codeowners import load_codeowners, rules_table
from pipelines.sources.incidents.prometheus import file_slos
from pipelines.warehouse import connect, publish, scalar

RECORDS_TABLE = "team_metric_records"  # the records of team_metrics (docs/sql.md)
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
    conn.register("_incoming", duckdb_arrow(frame))
    try:
        conn.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')  # noqa: S608
    finally:
        conn.unregister("_incoming")
    return frame.height


def read_table(conn: duckdb.DuckDBPyConnection, name: str, columns: Sequence[str] = (),
               repos: Sequence[str] | None = None, limit: int | None = None) -> pl.DataFrame:
    """A warehouse table as polars: every column, or only `columns`; every row, or only those
    of `repos`, or the first `limit` (0: just the schema). A step reads only what it uses: the
    commit file lists alone are most of a large warehouse."""
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    sql = f'SELECT {select} FROM "{name}"'  # noqa: S608 - our own table and column names
    params: dict[str, Any] = {}
    if repos is not None:
        sql += " WHERE repo IN (SELECT unnest($repos))"
        params["repos"] = list(repos)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    frame = conn.sql(sql, params=params).pl()
    if name in SCHEMAS:  # nested timestamps (reviews) need the full schema to be relabelled
        return frame.cast({c: t for c, t in SCHEMAS[name].items() if c in frame.columns})
    return utc(frame)


def _order(frame: pl.DataFrame) -> list[str]:
    """Precedence, lowest first: source position in the config, the source's own update time,
    landing order (`_batch` in frames read with `read_entity`), row."""
    return [c for c in ("_rank", "_updated_at", "_seq", "_batch", "_row") if c in frame.columns]


def latest_by_key(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Upsert semantics: per key, the record of the later-listed source wins; within a source,
    the newest (by update time, then landing order, then row). Sorted by the key, the order
    `write_table` stores the canonical tables in (`keep_newest`)."""
    frame = frame.with_row_index("_row")
    helpers = _order(frame)
    return keep_newest(frame, list(KEYS[entity]), helpers).drop(helpers)


CONFLICT_SCHEMA = {"entity": pl.String, "winning_source": pl.String, "losing_source": pl.String,
                   "shared_keys": pl.Int64, "differing_keys": pl.Int64}


def source_conflicts(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Keys that several sources give, per (winning, losing) source pair: how many, and how many
    of those the two sources disagree on (any field besides `source`)."""
    if frame.height == 0 or frame.get_column("source").n_unique() < 2:
        return pl.DataFrame(schema=CONFLICT_SCHEMA)  # one source cannot conflict with itself
    keys = list(KEYS[entity])
    values = [c for c in SCHEMAS[entity] if c != "source"]
    ordered = frame.with_row_index("_row")
    ordered = ordered.sort(_order(ordered), nulls_last=False)
    own = ordered.unique(subset=[*keys, "source"], keep="last", maintain_order=True)
    shared = own.filter(pl.len().over(keys) > 1)
    if shared.height == 0:
        return pl.DataFrame(schema=CONFLICT_SCHEMA)
    shared = shared.with_columns(pl.struct(values).hash(seed=0).alias("_hash"))
    winners = shared.unique(subset=keys, keep="last", maintain_order=True).select(
        *keys, pl.col("source").alias("winning_source"), pl.col("_hash").alias("_won"))
    pairs = shared.join(winners, on=keys).filter(pl.col("source") != pl.col("winning_source"))
    return pairs.group_by("winning_source", pl.col("source").alias("losing_source")).agg(
        pl.len().cast(pl.Int64).alias("shared_keys"),
        (pl.col("_hash") != pl.col("_won")).sum().cast(pl.Int64).alias("differing_keys"),
    ).select(pl.lit(entity).alias("entity"), "winning_source", "losing_source", "shared_keys",
             "differing_keys")


def _sources(config: DoraConfig) -> list[tuple[str, str]]:
    return [(s.kind, source_name(s, i)) for i, s in enumerate(config.sources)]


def landed(config: DoraConfig, entity: str) -> pl.DataFrame:
    """What the landing holds for `entity` now, with each row's precedence (`_rank`, `_seq`)."""
    return read_landed(config.landing_root, entity, _sources(config))


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


INPUTS_SCHEMA = {"entity": pl.String, "position": pl.Int64, "input": pl.String}


def build_canonical(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """Rewrite the canonical and config tables from the landing; returns row counts.

    Also `source_conflicts` (keys given by several sources, per pair; docs/config.md "What a
    rerun means") and `landing_inputs` (the landing files read). When the landing files to read
    and the config tables are what the last build used, nothing is rewritten."""
    files = {e: landed_files(config.landing_root, e, _sources(config)) for e in CANONICAL}
    root = str(config.landing_root)
    inputs = pl.DataFrame(
        [{"entity": "sources", "position": i, "input": f"{kind}/{name}"}
         for i, (kind, name) in enumerate(_sources(config))]
        + [{"entity": e, "position": i, "input": _content_name(str(f)[len(root) + 1:])}
           for e, found in files.items() for i, f in enumerate(found)], schema=INPUTS_SCHEMA)
    configured = config_tables(config)
    if _unchanged(conn, {"landing_inputs": inputs, **configured}):
        publish_if_consistent(conn)
        return {t: scalar(conn, f'SELECT count(*) FROM "{t}"')  # noqa: S608
                for t in (*CANONICAL, "source_conflicts", *configured)}
    counts: dict[str, int] = {}
    conflicts = []
    with _transaction(conn):
        for entity in CANONICAL:
            frame = read_landed(config.landing_root, entity, _sources(config), files[entity])
            if entity != "quarantine":
                conflicts.append(source_conflicts(frame, entity))
            # Already in key order (latest_by_key).
            counts[entity] = write_table(conn, entity, latest_by_key(frame, entity))
        counts["source_conflicts"] = write_table(
            conn, "source_conflicts", pl.concat(conflicts),
            ("entity", "winning_source", "losing_source"))
        for name, frame in configured.items():
            counts[name] = write_table(conn, name, frame, _order_of(frame))
        write_table(conn, "landing_inputs", inputs, ("entity", "position"))
        _stamp(conn, counts, max((v for v in _builds(conn).values() if v is not None),
                                 default=0) + 1)
    publish_if_consistent(conn)
    return counts


def _content_name(path: str) -> str:
    """A landing file named by its folder and content hash only: its time and run differ from
    one run to the next, the tables built from it do not."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/{_digest(name) or name}"


def _order_of(frame: pl.DataFrame) -> tuple[str, ...]:
    return (frame.columns[0], frame.columns[1])


def _unchanged(conn: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> bool:
    """True when the warehouse holds every canonical table and each of `tables` as given (in
    the order `write_table` stores them)."""
    present = set(_builds(conn))
    if not present >= {*CANONICAL, "source_conflicts", *tables}:
        return False
    for name, frame in tables.items():
        order = ("entity", "position") if name == "landing_inputs" else _order_of(frame)
        stored = read_table(conn, name)
        if stored.schema != frame.schema or not stored.equals(
                frame.sort(list(order), nulls_last=True)):
            return False
    return True


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
             after: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
             compute: Callable[[duckdb.DuckDBPyConnection],
                               dict[str, tuple[pl.DataFrame, tuple]]] | None = None,
             written: tuple[str, ...] = ()) -> dict[str, int]:
    """Replace `tables` in one transaction, stamp each with the build it comes from, and
    publish when the warehouse is consistent. `compute`, run first inside the transaction,
    may write the tables named in `written` itself and return more frames to write; `after`
    runs last (views over the new tables)."""
    counts = {}
    builds = _builds(conn)  # before writing: the builds of the tables the frames came from
    with _transaction(conn):
        if compute is not None:
            tables = {**compute(conn), **tables}
            for name in written:
                # fetchone would leave the result open, and the next register would fail.
                counts[name] = scalar(conn, f'SELECT count(*) FROM "{name}"')  # noqa: S608
        for name in [*written, *tables]:
            if name in tables:
                frame, order = tables[name]
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
    services = _services(conn)
    paths = services.get_column("paths").list.len().fill_null(0).sum() > 0
    files = ("files",) if paths else ()  # only services made of paths look at files
    commits = read_table(conn, "commits", COMMIT_COLUMNS + files)
    prs = read_table(conn, "pull_requests", PR_COLUMNS + files)
    (deployments,) = _tables(conn, "deployments")
    delivery = compute_changes(commits, prs, deployments, services, _ownership(conn),
                               settings_of(config))
    return _replace(conn, {
        "changes": (delivery.changes, ("service", "delivered_at", "change_id")),
        "commit_deliveries": (delivery.commit_deliveries, ("service", "sha")),
        "implicit_rollbacks": (delivery.implicit_rollbacks, ("deployment_id",)),
    })


def build_outcomes(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`deployment_outcomes` and `incident_attributions`."""
    deployments, incidents, deliveries, implicit = _tables(
        conn, "deployments", "incidents", "commit_deliveries", "implicit_rollbacks")
    # Outcomes need the deliveries, not the changes themselves.
    delivery = Delivery(read_table(conn, "changes", limit=0), deliveries, implicit, {})
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


def build_team_metrics(conn: duckdb.DuckDBPyConnection, config: DoraConfig) -> dict[str, int]:
    """`team_metrics`, its records `team_metric_records` and `org_metrics`, for the grains
    week and month.

    All three come from the same record rows, computed once and written in one transaction
    with the `metric_records` view over them (docs/sql.md). The records are computed and
    stored inside the warehouse (a million rows at a large organisation). The organisation's
    figures aggregate the same rows relabelled `all teams`, which is what the view shows for it.
    """
    outcomes, changes, incidents, slo_periods = _tables(
        conn, "deployment_outcomes", "changes", "incidents", "slo_periods")
    inputs = (outcomes, changes, incidents, slo_periods, _ownership(conn), settings_of(config))

    def records(c: duckdb.DuckDBPyConnection) -> dict[str, tuple[pl.DataFrame, tuple]]:
        tables = records_and_metrics(*inputs, into=(c, RECORDS_TABLE))
        return {"team_metrics": (tables.team_metrics, ("team", "grain", "period_start")),
                "org_metrics": (tables.org_metrics, ("grain", "period_start"))}

    return _replace(conn, {}, after=lambda c: c.execute(records_view_sql()), compute=records,
                    written=(RECORDS_TABLE,))


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
    changes = read_table(conn, "changes", limit=0 if members.height == 0 else None)
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
    repos = list(files)  # only the repos with a CODEOWNERS file (none: the view is empty)
    changes = read_table(conn, "changes", repos=repos)
    commits = read_table(conn, "commits", ("repo", "sha", "files"), repos=repos)
    prs = read_table(conn, "pull_requests", ("repo", "number", "commit_shas",
                                             "merge_commit_sha"), repos=repos)
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
        counts.update(build_reorganisations(conn, config))
        counts.update(build_people_view(conn, config))
        counts.update(build_code_owner_view(conn, config))
    finally:
        conn.close()
    return counts


