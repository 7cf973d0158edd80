"""Services by path: which commits and PRs belong to a service defined as path globs in a repo."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

_MATCHED = {"service": pl.String, "repo": pl.String, "file": pl.String}


def glob_to_regex(glob: str) -> str:
    """A path glob as an anchored regex: `**` crosses folders, `*` and `?` stay inside one.

    `services/ledger/**` matches everything below that folder; `*.md` only top-level files.
    """
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "^" + "".join(out) + "$"


def paths_pattern(globs: list[str]) -> str:
    """One regex matching a path that any of `globs` matches."""
    return "|".join(f"(?:{glob_to_regex(g)})" for g in globs)


def matching_files(files: pl.DataFrame, path_services: pl.DataFrame) -> pl.DataFrame:
    """(service, repo, file): the files of `files` (repo, file) under each service's paths.

    Each distinct path of a repo is matched once per service of that repo, however many
    commits touched it, so the regex work grows with the repo's file tree, not its history.
    """
    distinct = files.drop_nulls().unique().partition_by("repo", as_dict=True)
    parts = [
        distinct[(repo,)].filter(pl.col("file").str.contains(paths_pattern(globs)))
        .select(pl.lit(service).alias("service"), "repo", "file")
        for service, repo, globs in path_services.select("service", "repo", "paths").iter_rows()
        if (repo,) in distinct
    ]
    return pl.concat(parts).cast(_MATCHED) if parts else pl.DataFrame(schema=_MATCHED)


def service_member_commits(commits: pl.DataFrame, path_services: pl.DataFrame,
                           keys: Sequence[str] = ("sha",)) -> pl.DataFrame:
    """(service, *keys): the commits that belong to each service of `path_services`, which has
    `service`, `repo` and `paths` (globs); `keys` are columns of `commits` naming a commit.

    A commit with no file list (`files` null) belongs: without file data the only honest
    choice is the repo-level default, and the coverage figures show how much data lacks files.
    """
    mine = commits.join(path_services.select("repo").unique(), on="repo", how="semi")
    unknown = (mine.filter(pl.col("files").is_null()).select("repo", *keys)
               .join(path_services.select("service", "repo"), on="repo"))
    touched = (mine.filter(pl.col("files").is_not_null())
               .select("repo", *keys, pl.col("files").alias("file")).explode("file"))
    matched = matching_files(touched.select("repo", "file"), path_services)
    under = touched.join(matched, on=["repo", "file"])
    return pl.concat([unknown.select("service", *keys), under.select("service", *keys)]).unique()


def service_member_prs(prs: pl.DataFrame, path_services: pl.DataFrame,
                       member_commits: pl.DataFrame) -> pl.DataFrame:
    """(service, repo, number): the PRs that belong to each service of `path_services`.

    A PR with its own changed-file list belongs when one of those files matches; otherwise it
    belongs when one of its commits (or its merge commit) is a member (`member_commits`, from
    `service_member_commits`).
    """
    candidates = prs.join(path_services.select("service", "repo"), on="repo")
    has_files = (pl.col("files").list.len() > 0).fill_null(False)
    files = (candidates.filter(has_files).select("service", "repo", "number",
                                                 pl.col("files").alias("file")).explode("file"))
    matched = matching_files(files.select("repo", "file"), path_services)
    by_files = files.join(matched, on=["service", "repo", "file"], how="semi")
    by_commits = (
        candidates.filter(~has_files)
        .select("service", "repo", "number",
                pl.concat_list(pl.col("commit_shas").fill_null([]),
                               pl.col("merge_commit_sha")).alias("sha"))
        .explode("sha")
        .join(member_commits, on=["service", "sha"], how="semi")
    )
    return pl.concat([by_files.select("service", "repo", "number"),
                      by_commits.select("service", "repo", "number")]).unique()
