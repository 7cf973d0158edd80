"""Reading the CODEOWNERS files named in the config's `codeowners` block.

A file is read from `path` (a file, or a folder searched as GitHub searches a repository), or
from the branch of a `kind: git` source's clone (`git show`, so a bare clone works and local
edits do not count). A configured file that cannot be found is an error: an empty view would
look like "nobody owns anything", which is not what the config asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics.codeowners import CodeOwners, parse_codeowners, team_of_owner
from pipelines.config import CodeOwnersFile, DoraConfig
from pipelines.sources.git import GitRepo

# GitHub looks in these places, in this order, and uses the first file it finds.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

RULES_SCHEMA = {
    "repo": pl.String, "origin": pl.String, "line": pl.Int64, "pattern": pl.String,
    "owners": pl.List(pl.String), "teams": pl.List(pl.String), "error": pl.String,
}


@dataclass(frozen=True)
class RepoCodeOwners:
    """One repo's parsed CODEOWNERS, where it came from, and its owner → team aliases."""

    repo: str
    origin: str
    owners: CodeOwners
    aliases: Mapping[str, str]


def read_codeowners_text(entry: CodeOwnersFile, config: DoraConfig) -> tuple[str, str]:
    """(text, origin) of the CODEOWNERS file an entry points at; `origin` says where."""
    if entry.path is not None:
        return _from_path(config.resolve(entry.path), entry.repo)
    found = config.git_source_of(entry)
    if found is None:  # the config validator already refuses this; kept for direct callers
        raise ValueError(f"codeowners for {entry.repo}: no `path` and no git source")
    source, name = found
    return _from_clone(GitRepo(config.resolve(source.path)), source.branch, entry.repo, name)


def _from_path(path: Path, repo: str) -> tuple[str, str]:
    if path.is_file():
        return path.read_text(encoding="utf-8"), str(path)
    if path.is_dir():
        for location in LOCATIONS:
            candidate = path / location
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8"), str(candidate)
    raise FileNotFoundError(
        f"codeowners for {repo}: {path} is not a CODEOWNERS file, nor a folder with one at "
        + ", ".join(LOCATIONS))


def _from_clone(repo: GitRepo, branch: str | None, repo_name: str,
                source: str) -> tuple[str, str]:
    repo.check()
    head = repo.head_of(branch)
    if head is not None:
        for location in LOCATIONS:
            text = repo.run("show", f"{head}:{location}", ok=(0, 128))
            if text:
                return text.decode("utf-8", "replace"), f"{source}:{location}@{head[:12]}"
    raise FileNotFoundError(
        f"codeowners for {repo_name}: the {branch or 'HEAD'} branch of git source `{source}` "
        f"({repo.path}) has no " + ", ".join(LOCATIONS))


def load_codeowners(config: DoraConfig) -> dict[str, RepoCodeOwners]:
    """Every configured repo's CODEOWNERS, parsed."""
    out: dict[str, RepoCodeOwners] = {}
    for entry in config.codeowners:
        text, origin = read_codeowners_text(entry, config)
        out[entry.repo] = RepoCodeOwners(entry.repo, origin, parse_codeowners(text),
                                         dict(entry.aliases))
    return out


def rules_table(files: Mapping[str, RepoCodeOwners]) -> pl.DataFrame:
    """The `code_owner_rules` table: every rule with the teams its owners map to, and every
    skipped line with the reason, so the view can be checked line by line."""
    rows = []
    for repo, found in files.items():
        for rule in found.owners.rules:
            teams = sorted({t for o in rule.owners if (t := team_of_owner(o, found.aliases))})
            rows.append({"repo": repo, "origin": found.origin, "line": rule.line,
                         "pattern": rule.pattern, "owners": list(rule.owners), "teams": teams,
                         "error": None})
        for bad in found.owners.errors:
            rows.append({"repo": repo, "origin": found.origin, "line": bad.line,
                         "pattern": bad.text.strip(), "owners": None, "teams": None,
                         "error": bad.reason})
    return pl.DataFrame(rows, schema=RULES_SCHEMA)
