"""The `git` source: a local clone's commits, and its release tags as production deployments.

Everything is read through the `git` command line (no library), streamed: `git log -z` prints one
NUL-separated record per commit, which is parsed as it arrives, so a clone of 100,000 commits
reads in seconds. Times are Unix seconds from git, so UTC follows from each commit's own offset.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS
from pipelines.config import DoraConfig, GitSource
from pipelines.sources.base import quarantine_frame
from pipelines.sources.files import FilesResult

# Settings that would change what git prints (colour, signatures, quoted paths) are pinned.
_PINNED = ("-c", "core.quotepath=off", "-c", "log.showSignature=false", "-c", "color.ui=never")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_PRERELEASE = re.compile(
    r"-|\d(?:a|b|rc)\d|alpha|beta|rc|pre(?:view)?|dev|snapshot|nightly|canary", re.IGNORECASE
)


class GitError(RuntimeError):
    """A git command failed; the message carries git's own words."""


def _env() -> dict[str, str]:
    # An inherited GIT_DIR / GIT_WORK_TREE (e.g. when run from a git hook) would point git at
    # another repository than the configured path.
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {
        "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    }


@dataclass(frozen=True)
class Tag:
    """A tag and what it points at: the commit, and the date a deployment from it would carry."""

    name: str
    commit: str | None  # None when the tag points at a tree or blob
    at: dt.datetime


class GitRepo:
    """One local repository, read with the git CLI. Lookups are cached per instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ancestry: dict[tuple[str, str], bool | None] = {}
        self._refs: dict[str, str | None] = {}

    def command(self, *args: str) -> list[str]:
        return ["git", "-C", str(self.path), *_PINNED, *args]

    def run(self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
        """Run git and return its output; a failure raises `GitError` with git's message."""
        try:
            done = subprocess.run(self.command(*args), input=stdin, capture_output=True,
                                  env=_env(), check=False)
        except FileNotFoundError:
            raise GitError("the `git` command is not installed") from None
        if done.returncode not in ok:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git {args[0]} in {self.path} failed: {message}")
        return done.stdout

    def check(self) -> None:
        """Fail clearly when the path is not a git repository."""
        if not self.path.exists():
            raise GitError(f"{self.path} does not exist")
        self.run("rev-parse", "--git-dir")

    def stream(self, *args: str, stdin: bytes = b"") -> Iterator[list[bytes]]:
        """NUL-separated tokens of a git command's output, a block at a time as git writes."""
        # stderr goes to a file: a pipe nobody reads could fill up and stall git.
        with tempfile.TemporaryFile() as errors, subprocess.Popen(
            self.command(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            env=_env(),
        ) as proc:
            assert proc.stdin and proc.stdout
            proc.stdin.write(stdin)
            proc.stdin.close()
            rest, finished = b"", False
            try:
                while block := proc.stdout.read(1 << 20):
                    tokens = (rest + block).split(b"\0")
                    rest = tokens.pop()
                    yield tokens
                finished = True
            finally:
                if not finished:  # the reader stopped early: do not wait for git to finish
                    proc.kill()
            if rest:
                yield [rest]
            if proc.wait() != 0:
                errors.seek(0)
                message = errors.read().decode("utf-8", "replace").strip()
                raise GitError(f"git {args[0]} in {self.path} failed: {message}")

    def records(self, *args: str, fields: int, stdin: bytes = b"") -> Iterator[
            tuple[list[bytes], list[bytes]]]:
        """(fields, trailing tokens) per record of a `git log -z --format=%x1e%H...` listing.

        The trailing tokens are what git prints after the format (`--name-only` paths, `--raw`
        lines). A record starts at a token that is \x1e and a 40-character SHA; records are cut
        out of each block in bulk, which keeps 100,000 commits to about a second of Python.
        """
        pending: list[bytes] = []
        starts: list[int] = []
        for tokens in self.stream(*args, stdin=stdin):
            offset = len(pending)
            pending += tokens
            starts += [offset + i for i, t in enumerate(tokens) if len(t) == 41 and t[0] == 0x1E]
            for start, end in zip(starts, starts[1:], strict=False):
                yield _record(pending[start:end], fields)
            # The last record may continue in the next block: it waits in `pending`.
            pending, starts = (pending[starts[-1]:], [0]) if starts else (pending, [])
        if pending:
            yield _record(pending, fields)

    def resolve_many(self, names: Iterable[str]) -> dict[str, str | None]:
        """The full commit SHA each revision name (SHA prefix, `refs/tags/X`) names, or None.

        One `git cat-file --batch-check` answers them all; an ambiguous prefix gives None.
        """
        names = list(names)
        wanted = [n for n in dict.fromkeys(names) if n not in self._refs]
        usable = [n for n in wanted if n and not any(c.isspace() or ord(c) < 32 for c in n)]
        for name in set(wanted) - set(usable):
            self._refs[name] = None
        if usable:
            query = "".join(f"{n}^{{commit}}\n" for n in usable).encode()
            lines = self.run("cat-file", "--batch-check=%(objectname) %(objecttype)",
                             stdin=query).decode().splitlines()
            for name, line in zip(usable, lines, strict=True):
                sha, _, kind = line.partition(" ")
                self._refs[name] = sha if kind == "commit" and _FULL_SHA.match(sha) else None
        return {n: self._refs[n] for n in names}

    def resolve(self, name: str) -> str | None:
        return self.resolve_many([name])[name]

    def is_ancestor(self, older: str, newer: str) -> bool | None:
        """Whether `older` is an ancestor of (or equal to) `newer`; None when either is unknown."""
        key = (older, newer)
        if key not in self._ancestry:
            code = subprocess.run(self.command("merge-base", "--is-ancestor", older, newer),
                                  capture_output=True, env=_env(), check=False).returncode
            self._ancestry[key] = {0: True, 1: False}.get(code)
        return self._ancestry[key]

    def tags(self) -> list[Tag]:
        """Every tag with its commit and date: the tagger date for an annotated tag, else the
        tagged commit's committer date (both what `%(creatordate)` gives)."""
        out = self.run("for-each-ref", "--format=%(refname:strip=2)%00%(creatordate:unix)%00",
                       "refs/tags")
        tokens = out.split(b"\0")
        names = [t.decode("utf-8", "replace").lstrip("\n") for t in tokens[0:-1:2]]
        commits = self.resolve_many(f"refs/tags/{n}" for n in names)
        return [Tag(name, commits[f"refs/tags/{name}"],
                    dt.datetime.fromtimestamp(int(date or 0), dt.UTC))
                for name, date in zip(names, tokens[1::2], strict=False)]

    def resolve_versions(self, tags: Iterable[str]) -> dict[str, str | None]:
        """The app commit each image tag names (one batch for all): see `version_candidates`."""
        candidates = {t: version_candidates(t) for t in tags}
        resolved = self.resolve_many(c for names in candidates.values() for c in names)
        return {t: next((resolved[c] for c in names if resolved[c]), None)
                for t, names in candidates.items()}

    def head_of(self, branch: str | None) -> str | None:
        """The commit a branch (default HEAD) points at; None for an empty repository."""
        ref = branch or "HEAD"
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
                       ok=(0, 1))
        if not out.strip():
            if branch:
                raise GitError(f"branch {branch!r} does not exist in {self.path}")
            return None
        return out.decode().strip()


def version_candidates(tag: str) -> list[str]:
    """What an image tag may name in the app repo, in order: a tag of the repo (`1.2.0` also
    finds `v1.2.0` and the reverse), else a commit SHA of at least 7 characters (bare, `sha-…`,
    or the suffix of a `git describe` / `branch-sha` tag)."""
    candidates = [f"refs/tags/{tag}"]
    if tag[:1] == "v" and tag[1:2].isdigit():
        candidates.append(f"refs/tags/{tag[1:]}")
    elif tag[:1].isdigit():
        candidates.append(f"refs/tags/v{tag}")
    found = re.fullmatch(r"(?:.*[-_.]g?|sha-)?([0-9a-f]{7,40})", tag)
    if found:
        candidates.append(found.group(1))
    return candidates


def full_sha_in(tag: str) -> str | None:
    """A full commit SHA written in a tag (`<sha>` or `sha-<sha>`), usable without the app repo."""
    found = re.fullmatch(r"(?:sha-)?([0-9a-f]{40})", tag)
    return found.group(1) if found else None


def _record(tokens: list[bytes], fields: int) -> tuple[list[bytes], list[bytes]]:
    head = [tokens[0][1:], *tokens[1:fields]]
    return head, [t.removeprefix(b"\n") for t in tokens[fields:] if t]


COMMIT_FORMAT = "%x1e%H%x00%P%x00%at%x00%ct%x00%an%x00%B"


def read_commits(repo: GitRepo, repo_name: str, tips: list[str], source: str,
                 with_files: bool = False) -> pl.DataFrame:
    """Every commit reachable from `tips` as canonical `commits` rows (parents included)."""
    args = ["log", "-z", f"--format={COMMIT_FORMAT}", "--stdin"]
    if with_files:
        args += ["--name-only", "--no-renames"]
    cols: dict[str, list[Any]] = {k: [] for k in
                                  ("sha", "parents", "authored", "committed", "author", "message")}
    files: list[list[str]] = []
    stdin = "".join(f"{t}\n" for t in tips).encode()
    for head, tail in repo.records(*args, "--", fields=6, stdin=stdin):
        sha, parents, authored, committed, author, message = head
        cols["sha"].append(sha.decode())
        cols["parents"].append(parents.decode())
        cols["authored"].append(int(authored))
        cols["committed"].append(int(committed))
        cols["author"].append(author.decode("utf-8", "replace"))
        cols["message"].append(message.decode("utf-8", "replace").strip())
        files.append([p.decode("utf-8", "replace") for p in tail])
    frame = pl.DataFrame(cols, schema_overrides={"authored": pl.Int64, "committed": pl.Int64})
    return frame.select(
        pl.lit(repo_name).alias("repo"),
        "sha",
        pl.when(pl.col("parents") == "").then(pl.lit([], pl.List(pl.String)))
        .otherwise(pl.col("parents").str.split(" ")).alias("parents"),
        _utc("authored").alias("authored_at"),
        _utc("committed").alias("committed_at"),
        "author",
        "message",
        pl.Series("files", files if with_files else [None] * len(files),
                  dtype=pl.List(pl.String)),
        pl.lit(source).alias("source"),
    )


def _utc(column: str) -> pl.Expr:
    return pl.from_epoch(pl.col(column), time_unit="s").dt.replace_time_zone("UTC")


def is_prerelease(tag: str) -> bool:
    """A pre-release version: `1.2.0-rc.1`, `v2.0.0-beta`, `1.0.0a1`, `v3.1-dev`.

    Only the part from the first digit on counts (so `release-1.2` is not one), and build
    metadata after `+` does not make a pre-release.
    """
    start = re.search(r"\d", tag)
    if start is None:
        return False
    return bool(_PRERELEASE.search(tag[start.start():].split("+", 1)[0]))


def release_tags(tags: list[Tag], pattern: str, include_prereleases: bool) -> list[Tag]:
    """The tags that are releases: matching the glob, not pre-releases unless asked for."""
    return [t for t in tags if fnmatch.fnmatchcase(t.name, pattern)
            and (include_prereleases or not is_prerelease(t.name))]


def repo_name_of(source: GitSource, config: DoraConfig, path: Path) -> str:
    """The repo name in canonical rows: the source's `repo`, the service's, else the folder."""
    if source.repo:
        return source.repo
    service = next((s for s in config.services if s.name == source.service), None)
    return service.repo if service else path.name.removesuffix(".git")


def production_environment(config: DoraConfig) -> str:
    """The environment name release tags deploy to: the first production environment."""
    return config.production_environments[0] if config.production_environments else "production"


def read_git(source: GitSource, config: DoraConfig, name: str) -> FilesResult:
    """Commits of the clone (branch, plus every release tag's history) and release deployments."""
    path = config.resolve(source.path)
    repo = GitRepo(path)
    repo.check()
    if source.release_tags and not source.service:
        raise ValueError(f"source `{name}`: `release_tags` needs `service` (whose deployments "
                         "the tags are)")
    repo_name = repo_name_of(source, config, path)
    result = FilesResult()
    deployments: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    tips = [h] if (h := repo.head_of(source.branch)) else []
    if source.release_tags:
        releases = release_tags(repo.tags(), source.release_tags, source.include_prereleases)
        environment = production_environment(config)
        for tag in releases:
            result.tally.read["deployments"] += 1
            if tag.commit is None:
                bad.append({"source": name, "file": f"refs/tags/{tag.name}", "line": None,
                            "entity": "deployments", "record_key": f"git-{source.service}-"
                            f"{tag.name}", "field": "revision",
                            "reason": f"tag {tag.name!r} does not point at a commit",
                            "raw": tag.name})
                result.tally.quarantined["deployments"] += 1
                continue
            tips.append(tag.commit)
            deployments.append({
                "id": f"git-{source.service}-{tag.name}", "service": source.service,
                "environment": environment, "revision": tag.commit, "started_at": None,
                "finished_at": tag.at, "status": "success", "rollback_of": None,
                "fix_for": None, "labels": None, "source": name,
            })
            result.tally.loaded["deployments"] += 1
    # Changed files cost a diff per commit: read them only when something uses them (a
    # service made of paths, or a CODEOWNERS file of the repo).
    with_files = (any(s.repo == repo_name and s.paths for s in config.services)
                  or any(c.repo == repo_name for c in config.codeowners))
    commits = (read_commits(repo, repo_name, list(dict.fromkeys(tips)), name, with_files)
               if tips else pl.DataFrame(schema=SCHEMAS["commits"]))
    result.tally.read["commits"] += commits.height
    result.tally.loaded["commits"] += commits.height
    result.frames["commits"] = commits
    result.frames["deployments"] = pl.DataFrame(deployments, schema=SCHEMAS["deployments"])
    result.quarantine = quarantine_frame(bad)
    return result


def repo_state(repo: GitRepo) -> str:
    """Every ref of the repository and what it points at (HEAD included): a new commit, tag or
    branch changes it; nothing else does."""
    refs = repo.run("for-each-ref", "--format=%(refname) %(objectname)")
    head = repo.run("rev-parse", "--verify", "--quiet", "HEAD", ok=(0, 1))
    return hashlib.sha256(refs + b"\n" + head).hexdigest()


def settings_digest(*parts: Any) -> str:
    """A hash of the settings that shape what a source gives (pydantic models or plain data)."""
    plain = [p.model_dump(mode="json") if hasattr(p, "model_dump") else p for p in parts]
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


def git_fingerprint(source: GitSource, config: DoraConfig, name: str) -> str:
    """What decides whether a `git` source changed: its clone's refs and the settings."""
    repo = GitRepo(config.resolve(source.path))
    repo.check()
    return settings_digest("git-1", name, repo_state(repo), source, config.services,
                           config.codeowners, config.production_environments)
