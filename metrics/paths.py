"""Services by path: which commits belong to a service defined as path globs in a repo."""

from __future__ import annotations

import re

import polars as pl


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


def prs_in_paths(prs: pl.DataFrame, globs: list[str], member_commits: pl.Series) -> pl.Series:
    """The PR numbers (of one repo) that belong to a service made of `globs`.

    A PR with its own changed-file list belongs when one of those files matches; otherwise it
    belongs when one of its commits (or its merge commit) does.
    """
    with_files = prs.filter(pl.col("files").list.len() > 0)
    by_files = (
        with_files.select("number", "files").explode("files")
        .filter(pl.col("files").str.contains(paths_pattern(globs)))
        .get_column("number")
    )
    by_commits = (
        prs.filter(~pl.col("number").is_in(with_files.get_column("number").implode()))
        .select("number", pl.concat_list(pl.col("commit_shas").fill_null([]),
                                         pl.col("merge_commit_sha")).alias("sha"))
        .explode("sha")
        .filter(pl.col("sha").is_in(member_commits.implode()))
        .get_column("number")
    )
    return pl.concat([by_files, by_commits]).unique()


def commits_in_paths(commits: pl.DataFrame, globs: list[str]) -> pl.Series:
    """The SHAs (of `commits`, one repo) that belong to a service made of `globs`.

    A commit with no file list (`files` null) belongs: without file data the only honest
    choice is the repo-level default, and the coverage figures show how much data lacks files.
    """
    pattern = paths_pattern(globs)
    unknown = commits.filter(pl.col("files").is_null()).get_column("sha")
    touched = (
        commits.filter(pl.col("files").is_not_null())
        .select("sha", "files")
        .explode("files")
        .filter(pl.col("files").str.contains(pattern))
        .get_column("sha")
        .unique()
    )
    return pl.concat([unknown, touched]).unique()
