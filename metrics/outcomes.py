"""Deployment outcomes: failed, rework, restored_at (docs/metrics.md sections 3, 4 and 6)."""

from __future__ import annotations

import polars as pl

from metrics.schema import UTC_TS

HOUR_US = 3_600_000_000

ATTRIBUTION_SCHEMA = {
    "incident_id": pl.String, "deployment_id": pl.String, "rule": pl.String,
    "note": pl.String, "source": pl.String,
}


def counted_deployments(deployments: pl.DataFrame, production: list[str]) -> pl.DataFrame:
    """Successful deployments to a production environment (case-insensitive), in order."""
    envs = [e.lower() for e in production]
    return deployments.filter(
        (pl.col("status") == "success") & pl.col("environment").str.to_lowercase().is_in(envs)
    ).sort("service", "finished_at", "id")


def attribute_incidents(incidents: pl.DataFrame, deployments: pl.DataFrame,
                        commit_deliveries: pl.DataFrame, window_hours: float) -> pl.DataFrame:
    """One row per incident: the deployment it is attributed to, by which rule, and the
    incident's `source` (coverage shows attribution per incident source).

    Only incidents caused by a change (or of unknown cause) are attributed. A given
    `deployment_id` decides (when it names a counted deployment); else a given `commit_sha` decides
    (the deployment that delivered it to the incident's service, else to any service, earliest);
    else the latest deployment of the incident's service finishing strictly before `opened_at`
    and at most `window_hours` before it.
    """
    counted = deployments.select(pl.col("id").alias("deployment_id"), "service", "finished_at")
    rows = incidents.select("id", "service", "opened_at", "cause", "deployment_id", "commit_sha")
    sources = incidents.select(pl.col("id").alias("incident_id"), "source").unique("incident_id")
    eligible = pl.col("cause").is_in(["change", "unknown"])
    by_id = rows.filter(eligible & pl.col("deployment_id").is_not_null()).join(
        counted.select("deployment_id", pl.lit(True).alias("_known")), on="deployment_id",
        how="left",
    ).select(
        pl.col("id").alias("incident_id"),
        pl.when(pl.col("_known")).then(pl.col("deployment_id")).alias("deployment_id"),
        pl.lit("deployment_id").alias("rule"),
        pl.when(pl.col("_known").is_null())
        .then(pl.lit("deployment_id is not a successful production deployment")).alias("note"),
    )
    undecided = eligible & pl.col("deployment_id").is_null()
    by_sha = _by_commit(
        rows.filter(undecided & pl.col("commit_sha").is_not_null()).drop("deployment_id"),
        counted, commit_deliveries)
    by_time = _by_time(
        rows.filter(undecided & pl.col("commit_sha").is_null()).drop("deployment_id",
                                                                      "commit_sha"),
        counted, window_hours)
    other = rows.filter(~eligible).select(
        pl.col("id").alias("incident_id"), pl.lit(None, pl.String).alias("deployment_id"),
        pl.lit(None, pl.String).alias("rule"),
        pl.format("cause is {}", pl.col("cause")).alias("note"),
    )
    found = pl.concat([f.with_columns(pl.lit(None, pl.String).alias("source"))
                       .cast(ATTRIBUTION_SCHEMA) for f in (by_id, by_sha, by_time, other)])
    return found.drop("source").join(sources, on="incident_id", how="left").select(
        list(ATTRIBUTION_SCHEMA)).sort("incident_id")


def _by_commit(rows: pl.DataFrame, counted: pl.DataFrame,
               deliveries: pl.DataFrame) -> pl.DataFrame:
    delivered = deliveries.join(counted, on="deployment_id").select(
        pl.col("sha").alias("commit_sha"), pl.col("service").alias("dep_service"),
        "deployment_id", "finished_at")
    candidates = rows.join(delivered, on="commit_sha", how="left").with_columns(
        (pl.col("dep_service") == pl.col("service")).fill_null(False).alias("_same"))
    best = candidates.sort(["id", "_same", "finished_at", "deployment_id"],
                           descending=[False, True, False, False], nulls_last=True
                           ).group_by("id", maintain_order=True).first()
    return best.select(
        pl.col("id").alias("incident_id"), "deployment_id", pl.lit("commit_sha").alias("rule"),
        pl.when(pl.col("deployment_id").is_null())
        .then(pl.lit("commit_sha was not delivered by any deployment")).alias("note"),
    )


def _by_time(rows: pl.DataFrame, counted: pl.DataFrame, window_hours: float) -> pl.DataFrame:
    window = pl.duration(microseconds=int(window_hours * HOUR_US))
    joined = rows.join(counted, on="service", how="left").filter(
        pl.col("finished_at").is_null()
        | ((pl.col("finished_at") < pl.col("opened_at"))
           & (pl.col("finished_at") >= pl.col("opened_at") - window))
    )
    best = joined.sort(["id", "finished_at", "deployment_id"], descending=[False, True, True],
                       nulls_last=True).group_by("id", maintain_order=True).first()
    found = rows.select("id").join(best.select("id", "deployment_id"), on="id", how="left")
    return found.select(
        pl.col("id").alias("incident_id"), "deployment_id", pl.lit("time").alias("rule"),
        pl.when(pl.col("deployment_id").is_null())
        .then(pl.lit("no deployment of the service within the window before it opened"))
        .alias("note"),
    )


OUTCOME_SCHEMA = {
    "id": pl.String, "service": pl.String, "revision": pl.String, "finished_at": UTC_TS,
    "baseline": pl.Boolean, "failed": pl.Boolean, "failure_reasons": pl.List(pl.String),
    "rework": pl.Boolean, "rework_reasons": pl.List(pl.String), "rolls_back": pl.String,
    "fixes": pl.String, "incident_ids": pl.List(pl.String), "restored_at": UTC_TS,
    "fdrt_hours": pl.Float64, "failure_detail": pl.String, "rework_detail": pl.String,
}

# How `failure_detail` words each way a later deployment undoes a failed one.
_UNDONE_BY = {"rollback": "rolled back by ", "implicit_rollback": "implicitly rolled back by ",
              "fix": "fixed by "}


def deployment_outcomes(deployments: pl.DataFrame, attributions: pl.DataFrame,
                        incidents: pl.DataFrame, implicit: pl.DataFrame) -> pl.DataFrame:
    """One row per counted deployment: failed and why, rework and why, restored_at.

    `deployments` are the counted ones; `implicit` holds (deployment_id, rolled_back_id) pairs.
    """
    deps = deployments.with_columns(
        pl.int_range(pl.len()).over("service").alias("_pos"),
    )
    pos = deps.select("id", "service", "_pos", "finished_at")
    # Explicit rollbacks count only within the same service and when the rollback is later.
    explicit = _later_same_service(deps, "rollback_of", pos, "rollback")
    fixes = _later(deps, "fix_for", pos, "fix")
    implicit_rows = implicit.join(pos.select("id", "finished_at"),
                                  left_on="deployment_id", right_on="id").select(
        pl.col("rolled_back_id").alias("target"), pl.col("deployment_id").alias("by"),
        "finished_at", pl.lit("implicit_rollback").alias("reason"))
    undo = pl.concat([explicit, implicit_rows, fixes]).with_columns(
        (pl.col("reason").replace_strict(_UNDONE_BY, return_dtype=pl.String) + pl.col("by"))
        .alias("words"))
    by_undo = undo.group_by("target").agg(
        pl.col("reason").unique().sort().alias("undo_reasons"),
        pl.col("words").unique().sort().alias("undo_words"),
        pl.col("finished_at").min().alias("undone_at"))
    inc = _incident_restore(attributions, incidents)
    out = (
        deps.join(by_undo, left_on="id", right_on="target", how="left")
        .join(inc, left_on="id", right_on="deployment_id", how="left")
        .join(implicit.rename({"deployment_id": "id", "rolled_back_id": "_implicit_of"}),
              on="id", how="left")
    )
    out = out.with_columns(
        pl.concat_list(
            pl.when(pl.col("incident_ids").list.len() > 0).then(pl.lit(["incident"]))
            .otherwise(pl.lit([], pl.List(pl.String))),
            pl.col("undo_reasons").fill_null(pl.lit([], pl.List(pl.String))),
        ).alias("failure_reasons"),
        pl.concat_list(
            _tag(pl.col("rollback_of").is_not_null(), "rollback"),
            _tag(pl.col("_implicit_of").is_not_null(), "implicit_rollback"),
            _tag(pl.col("fix_for").is_not_null(), "fix"),
            _tag(pl.col("labels").fill_null([]).list.eval(
                pl.element().str.to_lowercase() == "hotfix").list.any(), "hotfix"),
        ).alias("rework_reasons"),
        pl.concat_list(
            pl.when(pl.col("incident_ids").list.len() > 0)
            .then(pl.concat_list(pl.format("incident {}", pl.col("incident_ids").list.join(", "))))
            .otherwise(pl.lit([], pl.List(pl.String))),
            pl.col("undo_words").fill_null(pl.lit([], pl.List(pl.String))),
        ).list.join("; ").alias("failure_detail"),
        pl.concat_list(
            _words(pl.col("rollback_of").is_not_null(), pl.format("rolls back {}", "rollback_of")),
            _words(pl.col("_implicit_of").is_not_null(),
                   pl.format("implicitly rolls back {}", "_implicit_of")),
            _words(pl.col("fix_for").is_not_null(), pl.format("fixes {}", "fix_for")),
            _words(pl.col("labels").fill_null([]).list.eval(
                pl.element().str.to_lowercase() == "hotfix").list.any(), pl.lit("label hotfix")),
        ).list.join("; ").alias("rework_detail"),
        pl.min_horizontal("undone_at", "incidents_restored_at").alias("restored_at"),
        pl.coalesce("rollback_of", "_implicit_of").alias("rolls_back"),
        pl.col("fix_for").alias("fixes"),
        (pl.col("_pos") == 0).alias("baseline"),
        pl.col("incident_ids").fill_null(pl.lit([], pl.List(pl.String))),
    ).with_columns(
        (pl.col("failure_reasons").list.len() > 0).alias("failed"),
        (pl.col("rework_reasons").list.len() > 0).alias("rework"),
        pl.when(pl.col("failure_reasons").list.len() > 0).then(pl.col("restored_at"))
        .alias("restored_at"),
        pl.when(pl.col("failure_reasons").list.len() > 0).then(pl.col("failure_detail"))
        .alias("failure_detail"),
        pl.when(pl.col("rework_reasons").list.len() > 0).then(pl.col("rework_detail"))
        .alias("rework_detail"),
    ).with_columns(
        # Failed deployment recovery time (fdrt), per deployment; section 4.
        ((pl.col("restored_at") - pl.col("finished_at")).dt.total_microseconds() / HOUR_US)
        .alias("fdrt_hours"),
    )
    return out.select(list(OUTCOME_SCHEMA)).cast(OUTCOME_SCHEMA).sort("service", "finished_at",
                                                                        "id")


def _tag(condition: pl.Expr, name: str) -> pl.Expr:
    return pl.when(condition).then(pl.lit([name])).otherwise(pl.lit([], pl.List(pl.String)))


def _words(condition: pl.Expr, words: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.concat_list(words)).otherwise(
        pl.lit([], pl.List(pl.String)))


def _later_same_service(deps: pl.DataFrame, column: str, pos: pl.DataFrame,
                        reason: str) -> pl.DataFrame:
    return _later(deps, column, pos, reason, same_service=True)


def _later(deps: pl.DataFrame, column: str, pos: pl.DataFrame, reason: str,
           same_service: bool = False) -> pl.DataFrame:
    """(target, by, finished_at, reason) for deployments that point at an earlier one."""
    pointing = deps.filter(pl.col(column).is_not_null()).select(
        pl.col(column).alias("target"), pl.col("id").alias("by"), "service", "finished_at")
    joined = pointing.join(
        pos.select(pl.col("id").alias("target"), pl.col("service").alias("t_service"),
                   pl.col("finished_at").alias("t_finished")), on="target", how="inner")
    keep = pl.col("finished_at") > pl.col("t_finished")
    if same_service:
        keep = keep & (pl.col("service") == pl.col("t_service"))
    return joined.filter(keep).select("target", "by", "finished_at",
                                      pl.lit(reason).alias("reason"))


def _incident_restore(attributions: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """Per deployment: its attributed incidents and, when all are resolved, the latest
    resolution."""
    return (
        attributions.filter(pl.col("deployment_id").is_not_null())
        .join(incidents.select(pl.col("id").alias("incident_id"), "resolved_at"),
              on="incident_id")
        .group_by("deployment_id")
        .agg(
            pl.col("incident_id").sort().alias("incident_ids"),
            pl.when(pl.col("resolved_at").null_count() == 0)
            .then(pl.col("resolved_at").max()).alias("incidents_restored_at"),
        )
    )
