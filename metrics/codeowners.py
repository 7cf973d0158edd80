"""CODEOWNERS: who owns a path, with GitHub's syntax and precedence (docs/ownership.md).

A CODEOWNERS file is a list of rules, one per line: a pattern, then zero or more owners
(`@user`, `@org/team`, or an e-mail address). For a path, the *last* rule whose pattern matches
decides; a matching rule with no owners makes the path unowned. Patterns follow gitignore with
GitHub's restrictions:

- a leading `/` anchors the pattern to the repository root; a pattern with a `/` in the middle
  is anchored too; a pattern with no `/` (or only a trailing one) matches at any depth;
- a trailing `/` matches everything inside that directory (but not a file of that name);
- `*` and `?` stay inside one path segment; `**` crosses segments;
- a pattern that names a directory matches every path below it, except when its last segment is
  a lone `*` (`docs/*` owns `docs/a.md`, not `docs/guide/a.md`, as GitHub documents);
- `!` negation and `[ ]` ranges do not work on GitHub, so a line using them is reported and
  skipped, as is a line with an owner that is neither a handle nor an e-mail address.

Everything here is pure: text in, rules and owners out. `code_owner_changes` applies a parsed
file to delivered changes (the `changes_by_code_owner` view).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import polars as pl

from metrics.ownership import UNASSIGNED
from metrics.paths import matching_files

_HANDLE = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9_.-]*)(?:/[A-Za-z0-9_.-]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_SPLIT = re.compile(r"(?<!\\)\s+")


@dataclass(frozen=True)
class Rule:
    """One usable line of a CODEOWNERS file."""

    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


@dataclass(frozen=True)
class LineError:
    """A line GitHub would reject; it is skipped, like GitHub does."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class CodeOwners:
    """A parsed CODEOWNERS file: its rules in file order, and the lines that were skipped."""

    rules: tuple[Rule, ...] = ()
    errors: tuple[LineError, ...] = field(default=())

    def rule_for(self, path: str) -> Rule | None:
        """The rule that decides `path`: the last one that matches, or None."""
        clean = path.lstrip("/")
        return next((r for r in reversed(self.rules) if r.matches(clean)), None)

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The owners of `path` (empty when no rule matches or the deciding rule has none)."""
        rule = self.rule_for(path)
        return rule.owners if rule else ()


def parse_codeowners(text: str) -> CodeOwners:
    """Parse the text of a CODEOWNERS file. Bad lines end up in `errors`, never raise."""
    rules: list[Rule] = []
    errors: list[LineError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        # GitHub has no escape for `#`: from the first one on, the line is a comment.
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        pattern, *owners = _SPLIT.split(content)
        problem = _pattern_problem(pattern) or next(
            (f"`{o}` is not a @user, @org/team or e-mail owner" for o in owners
             if not (_HANDLE.match(o) or _EMAIL.match(o))), None)
        if problem:
            errors.append(LineError(number, raw, problem))
            continue
        rules.append(Rule(number, pattern, tuple(owners), pattern_regex(pattern)))
    return CodeOwners(tuple(rules), tuple(errors))


def _pattern_problem(pattern: str) -> str | None:
    if pattern.startswith("!"):
        return "`!` negation does not work in CODEOWNERS"
    if "[" in pattern or "]" in pattern:
        return "`[ ]` character ranges do not work in CODEOWNERS"
    if "***" in pattern:
        return "a pattern cannot contain `***`"
    return None


@lru_cache(maxsize=4096)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regex of a CODEOWNERS pattern, matched against a root-relative path."""
    if pattern == "/":
        return re.compile(r"(?!)")  # the root itself names no file
    segments = pattern.split("/")
    if segments[0] == "":
        segments = segments[1:]  # leading slash: relative to the root
    elif len(segments) == 1 or (len(segments) == 2 and segments[1] == ""):
        # A single name (`docs`, `*.js`, `apps/`) matches at any depth.
        if segments[0] != "**":
            segments = ["**", *segments]
    if len(segments) > 1 and segments[-1] == "":
        segments[-1] = "**"  # `dir/` is everything inside `dir`
    return re.compile(_segments_regex(segments))


def _segments_regex(segments: list[str]) -> str:
    out: list[str] = []
    last = len(segments) - 1
    need_slash = False
    for i, seg in enumerate(segments):
        if seg == "**":
            if i == 0 and i == last:
                out.append(".+")
            elif i == 0:
                out.append("(?:.+/)?")
                need_slash = False
            elif i == last:
                out.append("/.*")
            else:
                out.append("(?:/.+)?")
                need_slash = True
            continue
        if need_slash:
            out.append("/")
        if seg == "*":
            # A lone `*` is one segment exactly: `docs/*` does not reach `docs/a/b.md`.
            out.append("[^/]+")
        else:
            out.append(_segment_regex(seg))
            if i == last:
                out.append("(?:/.*)?")  # a name also covers everything below it
        need_slash = True
    return "".join(out)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    chars = iter(segment)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def team_of_owner(owner: str, aliases: Mapping[str, str]) -> str | None:
    """The team an owner stands for: its alias (case-insensitive, as GitHub handles are),
    else the slug of an `@org/slug` team handle; users and e-mails only count through an alias.
    """
    folded = {k.casefold(): v for k, v in aliases.items()}
    if owner.casefold() in folded:
        return folded[owner.casefold()]
    if owner.startswith("@") and "/" in owner:
        return owner.split("/", 1)[1]
    return None


def teams_of_path(owners: CodeOwners, aliases: Mapping[str, str], path: str) -> list[str]:
    """The teams that own `path` (sorted, distinct); empty when nobody mapped owns it."""
    teams = {team_of_owner(o, aliases) for o in owners.owners_of(path)}
    return sorted(t for t in teams if t)


# --- the `changes_by_code_owner` view ----------------------------------------------------------

CODE_OWNER_EXTRA = {"service_team": pl.String, "code_owner_team": pl.String,
                    "owned_files": pl.Int64}


def change_files(changes: pl.DataFrame, commits: pl.DataFrame, pull_requests: pl.DataFrame,
                 services: pl.DataFrame) -> pl.DataFrame:
    """(service, change_id, file) for every file a delivered change touched inside its service.

    A PR's files are those of its commits and its merge commit; a bare commit's are its own. A
    service made of paths only sees the files under its paths. A change none of whose commits
    has a file list gets one row with `file` null: its files are unknown, not absent.
    """
    keys = changes.select("service", "change_id", "repo", "change_type", "pr_number", "sha")
    prs = pull_requests.select(
        "repo", pl.col("number").alias("pr_number"),
        pl.concat_list(pl.col("commit_shas").fill_null([]),
                       pl.col("merge_commit_sha")).alias("_shas"))
    shas = pl.concat([
        keys.filter(pl.col("change_type") == "pull_request")
        .join(prs, on=["repo", "pr_number"], how="left")
        .select("service", "change_id", "repo", pl.col("_shas").alias("commit_sha"))
        .explode("commit_sha"),
        keys.filter(pl.col("change_type") != "pull_request")
        .select("service", "change_id", "repo", pl.col("sha").alias("commit_sha")),
    ]).drop_nulls("commit_sha")
    touched = shas.join(commits.select("repo", pl.col("sha").alias("commit_sha"), "files"),
                        on=["repo", "commit_sha"], how="inner")
    known = (touched.filter(pl.col("files").is_not_null())
             .select("service", "change_id", pl.col("files").alias("file")).explode("file")
             .drop_nulls("file"))
    known = _within_service(known, services).unique()
    with_data = touched.filter(pl.col("files").is_not_null()).select("service", "change_id")
    unknown = (keys.select("service", "change_id")
               .join(with_data.unique(), on=["service", "change_id"], how="anti")
               .with_columns(pl.lit(None, pl.String).alias("file")))
    return pl.concat([known, unknown])


def _within_service(files: pl.DataFrame, services: pl.DataFrame) -> pl.DataFrame:
    """Keep, for a service made of paths, only the files under its paths (one pass for all
    services: each distinct path is matched once per service of its repo)."""
    path_services = services.filter(pl.col("paths").list.len() > 0).select(
        "service", "repo", "paths")
    if path_services.height == 0:
        return files
    mine = files.join(path_services.select("service", "repo"), on="service")
    matched = matching_files(mine.select("repo", "file"), path_services)
    in_paths = pl.col("service").is_in(path_services.get_column("service").implode())
    return pl.concat([
        files.filter(~in_paths),
        files.filter(in_paths).join(matched.select("service", "file"), on=["service", "file"],
                                    how="semi"),
    ])


def code_owner_changes(changes: pl.DataFrame, commits: pl.DataFrame,
                       pull_requests: pl.DataFrame, services: pl.DataFrame,
                       owners: Mapping[str, tuple[CodeOwners, Mapping[str, str]]]
                       ) -> pl.DataFrame:
    """Changes of repos with a CODEOWNERS file, one row per change, service and owning team.

    `owners` maps a repo to its parsed file and its owner → team aliases. A change belongs to
    every team that owns at least one of the files it changed in that service (`owned_files`
    counts them). When no file of it has a mapped owner, or its files are unknown, it belongs to
    `unassigned` (`owned_files` then counts its unowned files): it is never dropped.
    The change's service owner is kept as `service_team`.
    """
    mine = changes.filter(pl.col("repo").is_in(list(owners)))
    base = mine.rename({"team": "service_team"}) if "team" in mine.columns else mine
    if base.height == 0:
        return _empty_view(changes)
    keys = ["service", "change_id"]
    files = change_files(base, commits, pull_requests, services).join(
        base.select(*keys, "repo"), on=keys)
    owned = files.join(_file_teams(files, owners), on=["repo", "file"], how="left")
    by_team = (owned.drop_nulls("code_owner_team")
               .group_by(*keys, "code_owner_team")
               .agg(pl.col("file").n_unique().alias("owned_files")))
    unowned = (base.select(keys).join(by_team.select(keys).unique(), on=keys, how="anti")
               .join(owned.group_by(keys).agg(pl.col("file").drop_nulls().n_unique()
                                              .alias("owned_files")), on=keys, how="left")
               .select(*keys, pl.lit(UNASSIGNED).alias("code_owner_team"),
                       pl.col("owned_files").fill_null(0)))
    teams = pl.concat([by_team.cast({"owned_files": pl.Int64}),
                       unowned.cast({"owned_files": pl.Int64})])
    return base.join(teams, on=keys, how="inner").select(
        *base.columns, "code_owner_team", "owned_files")


def _file_teams(files: pl.DataFrame,
                owners: Mapping[str, tuple[CodeOwners, Mapping[str, str]]]) -> pl.DataFrame:
    """(repo, file, code_owner_team) for each distinct file, one row per owning team.

    Each distinct path is looked up once: a monorepo's changes touch the same files again and
    again, and the rule lookup is the only per-path Python work.
    """
    rows = [
        {"repo": repo, "file": path, "code_owner_team": team}
        for repo, path in files.select("repo", "file").drop_nulls().unique().iter_rows()
        for team in teams_of_path(*owners[repo], path)
    ]
    return pl.DataFrame(rows, schema={"repo": pl.String, "file": pl.String,
                                      "code_owner_team": pl.String})


def _empty_view(changes: pl.DataFrame) -> pl.DataFrame:
    schema = {("service_team" if k == "team" else k): v for k, v in changes.schema.items()}
    return pl.DataFrame(schema={**schema, **{k: v for k, v in CODE_OWNER_EXTRA.items()
                                             if k not in schema}})
