"""Delivery as one set-based pass: path services by hand, and all services at once = each alone."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from metrics.delivery import deliver
from metrics.outcomes import counted_deployments
from metrics.paths import matching_files, service_member_commits, service_member_prs
from metrics.schema import conform
from pipelines.demo.generator import OrgShape, generate_org

MONO = "acme/mono"
PATH_SERVICES = pl.DataFrame({
    "service": ["ledger", "billing"], "repo": [MONO, MONO],
    "paths": [["services/ledger/**"], ["services/billing/**", "*.md"]],
})


def test_commits_and_prs_of_path_services() -> None:
    """Worked by hand:

    commit a  services/ledger/x.py                          -> ledger
    commit b  services/billing/y.py                         -> billing
    commit c  no file list (unknown)                        -> both (the repo-level default)
    commit d  an empty file list                            -> neither
    commit e  docs/README.md (`*.md` is top level only)     -> neither
    commit f  README.md, services/ledger/z.py               -> both
    PR 1  own files services/ledger/q.py                    -> ledger (files decide)
    PR 2  no files, commit b                                -> billing (its commits decide)
    PR 3  no files, merge commit a                          -> ledger
    PR 4  empty file list, commit d                         -> neither
    PR 5  own files docs/x.py, commit a                     -> neither (files decide, not a)
    """
    commits = pl.DataFrame({
        "repo": [MONO] * 6, "sha": list("abcdef"),
        "files": [["services/ledger/x.py"], ["services/billing/y.py"], None, [],
                  ["docs/README.md"], ["README.md", "services/ledger/z.py"]],
    }, schema={"repo": pl.String, "sha": pl.String, "files": pl.List(pl.String)})
    members = service_member_commits(commits, PATH_SERVICES)
    assert sorted(members.iter_rows()) == [
        ("billing", "b"), ("billing", "c"), ("billing", "f"),
        ("ledger", "a"), ("ledger", "c"), ("ledger", "f")]
    prs = pl.DataFrame({
        "repo": [MONO] * 5, "number": [1, 2, 3, 4, 5],
        "files": [["services/ledger/q.py"], None, None, [], ["docs/x.py"]],
        "commit_shas": [["x1"], ["b"], None, ["d"], ["a"]],
        "merge_commit_sha": ["m1", "m2", "a", "m4", "m5"],
    }, schema={"repo": pl.String, "number": pl.Int64, "files": pl.List(pl.String),
               "commit_shas": pl.List(pl.String), "merge_commit_sha": pl.String})
    owned = service_member_prs(prs, PATH_SERVICES, members)
    assert sorted(owned.iter_rows()) == [("billing", MONO, 2), ("ledger", MONO, 1),
                                         ("ledger", MONO, 3)]


def test_each_distinct_file_is_matched_per_service_of_its_repo() -> None:
    files = pl.DataFrame({"repo": [MONO, MONO, MONO, "acme/other"],
                          "file": ["a.md", "a.md", "services/ledger/k.py", "b.md"]})
    matched = matching_files(files, PATH_SERVICES)
    # a.md twice in the input, once in the answer; acme/other has no path service.
    assert sorted(matched.iter_rows()) == [("billing", MONO, "a.md"),
                                           ("ledger", MONO, "services/ledger/k.py")]


def _org() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A small generated org with every delivery mode: graph repos, a time-mode repo (no
    parents), two path services splitting one repo, and two whole-repo services on one repo."""
    frames = generate_org(OrgShape(teams=2, services=4, months=2, seed=3))
    commits = conform("commits", frames["commits"])
    prs = conform("pull_requests", frames["pull_requests"])
    deps = conform("deployments", frames["deployments"])
    names = deps.get_column("service").unique().sort().to_list()
    repo = {n: f"acme/{n}" for n in names}
    time_repo = repo[names[0]]
    commits = commits.with_columns(
        pl.when(pl.col("repo") == time_repo).then(pl.lit([], pl.List(pl.String)))
        .otherwise(pl.col("parents")).alias("parents"))
    twin = deps.filter(pl.col("service") == names[1]).gather_every(2).with_columns(
        pl.lit("twin").alias("service"), pl.format("{}-t", "id").alias("id"))
    core = deps.filter(pl.col("service") == names[2]).gather_every(3).with_columns(
        pl.lit("core").alias("service"), pl.format("{}-c", "id").alias("id"))
    services = pl.DataFrame({
        "service": [*names, "twin", "core"],
        "repo": [*repo.values(), repo[names[1]], repo[names[2]]],
        "paths": [None, None, ["src/api/**", "README.md"], None, None, ["src/core/**"]],
    }, schema={"service": pl.String, "repo": pl.String, "paths": pl.List(pl.String)})
    counted = counted_deployments(pl.concat([deps, twin, core]), ["production", "prod"])
    return commits, prs, counted, services


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_all_services_at_once_equal_each_service_alone() -> None:
    """Keying every join by service must not let one service's commits, PRs or deployments
    leak into another's, whatever shares a repo: the one pass equals the union of passes made
    with each service alone."""
    commits, prs, counted, services = _org()
    together = deliver(commits, prs, counted, services)
    alone = [deliver(commits, prs, counted, services.slice(i, 1))
             for i in range(services.height)]
    assert together.changes.height > 0 and together.implicit_rollbacks.height > 0
    assert set(together.modes.values()) == {"graph", "time"}
    for name in ("changes", "commit_deliveries", "implicit_rollbacks"):
        one_pass = getattr(together, name)
        union = pl.concat([getattr(d, name) for d in alone])
        assert_frame_equal(_sorted(one_pass), _sorted(union))
    assert together.modes == {k: v for d in alone for k, v in d.modes.items()}
    # The path services split their repo (a change touching both paths counts for both).
    ids = dict(together.changes.group_by("service").agg("change_id").iter_rows())
    core, api = set(ids["core"]), set(ids[services["service"][2]])
    assert core - api and api - core
