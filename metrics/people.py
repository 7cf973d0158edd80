"""The people view: PR-based figures by the team of the PR's author (docs/ownership.md).

`team_metrics` attributes a change to the team that owns the *service* it was delivered to.
This view answers a different question — how do the pull requests *of a team's people* flow —
so it is kept in tables of its own (`changes_by_author_team`, `team_metrics_by_people`) and
never mixed into `team_metrics`.
"""

from __future__ import annotations

import polars as pl

from metrics.ownership import OWNERSHIP_SCHEMA, assign_team

MEMBER_SCHEMA = {
    "team": pl.String,
    "person": pl.String,
    "valid_from": pl.Date,
    "valid_until": pl.Date,
}


def author_team_changes(changes: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """The PR rows of `changes`, each with `author_team`: the author's team at delivery.

    Membership rows (team, person, valid_from, valid_until) work like service ownership: `from`
    inclusive, `until` exclusive, overlaps resolved to the alphabetically first team, and an
    author no row covers (or a PR without an author) goes to `unassigned`. Logins are compared
    case-insensitively, as GitHub compares them. Bare commits are not PRs and are left out.
    The service owner of each row is kept as `service_team`.
    """
    prs = changes.filter(pl.col("change_type") == "pull_request")
    if "team" in prs.columns:
        prs = prs.rename({"team": "service_team"})
    keyed = prs.with_columns(pl.col("author").str.to_lowercase().alias("_person"))
    ownership = members.select(
        "team", pl.col("person").str.to_lowercase().alias("service"), "valid_from",
        "valid_until").cast(OWNERSHIP_SCHEMA)
    out = assign_team(keyed, ownership, at="delivered_at", service="_person")
    return out.rename({"team": "author_team"}).drop("_person")
