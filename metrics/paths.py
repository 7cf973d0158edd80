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


def commits_in_paths(commits: pl.DataFrame, globs: list[str]) -> pl.Series:
    """The SHAs (of `commits`, one repo) that belong to a service made of `globs`.

    A commit with no file list (`files` null) belongs: without file data the only honest
    choice is the repo-level default, and the coverage figures show how much data lacks files.
    """
    pattern = "|".join(f"(?:{glob_to_regex(g)})" for g in globs)
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
