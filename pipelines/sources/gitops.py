"""The `gitops` source: image-tag changes on a config repo's branch are deployments.

docs/config.md (GitOps): at each commit of `branch`, following first parents (a merged PR counts at
its merge commit), the files matching `files` give each service's image tag per environment. A
change of tag is a successful deployment at the commit's committer time; the tag resolves to an
app commit through the service's app clone (a `git` source). A change to a strict ancestor of the
current revision is a rollback of the deployment it replaces.

Only commits that touch matching files are listed (`git log` does the path filtering), and each
file version (blob) is fetched and parsed once, however often a revert brings it back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS
from pipelines.config import DoraConfig, GitopsSource, Service
from pipelines.sources.base import quarantine_frame
from pipelines.sources.files import FilesResult
from pipelines.sources.git import (
    GitRepo,
    full_sha_in,
    repo_name_of,
    repo_state,
    settings_digest,
)
from pipelines.sources.images import BadYaml, ImageRef, ServiceImages, parse_images, pick_tags

YAML_SUFFIXES = (".yaml", ".yml")
_TOKEN = re.compile(r"\{(environment|service)\}|\*\*/?|\*|\?|[^{*?]+|.")
_NO_BLOB = "0" * 40


class FilePattern:
    """`files` of a gitops source: a glob in which `{environment}` (and optionally `{service}`)
    name a path segment, e.g. `envs/{environment}/**` or `apps/{service}/values-{environment}.yaml`.
    """

    def __init__(self, pattern: str) -> None:
        if "{environment}" not in pattern:
            raise ValueError(f"`files: {pattern}` must contain {{environment}}")
        regex, glob, groups = "", "", set()
        for token in _TOKEN.finditer(pattern.removeprefix("./")):
            text, group = token.group(0), token.group(1)
            if group:
                regex += f"(?P={group})" if group in groups else f"(?P<{group}>[^/]+)"
                groups.add(group)
                glob += "*"
                continue
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                text, re.escape(text))
            glob += text
        self.regex = re.compile(regex)
        self.pathspec = f":(glob){glob}"

    def match(self, path: str) -> tuple[str, str | None] | None:
        """(environment, service or None) for a path the pattern covers."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return found.group("environment"), found.groupdict().get("service")


@dataclass(frozen=True)
class Bump:
    """A service's image tag changed in an environment at a config commit."""

    service: str
    environment: str
    tag: str
    file: str
    commit: str
    at: dt.datetime


@dataclass(frozen=True)
class BadFile:
    """A matching file that could not be read at a commit."""

    path: str
    commit: str
    error: BadYaml
    text: str


class ConfigRepo:
    """A GitOps config repo: its history of image tags, and the tags at any one commit."""

    def __init__(self, path: Path, branch: str, files: str, services: list[Service]) -> None:
        self.repo = GitRepo(path)
        self.branch = branch
        self.pattern = FilePattern(files)
        self.services = services
        self.index = ServiceImages(services)
        self._parsed: dict[str, list[ImageRef] | BadYaml] = {}
        self._texts: dict[str, bytes] = {}
        self._at: dict[str, dict[tuple[str, str], str]] = {}

    def _load(self, blobs: list[str]) -> None:
        """Fetch and parse file versions not seen yet, all in one `git cat-file --batch`."""
        wanted = [b for b in dict.fromkeys(blobs) if b not in self._parsed]
        if not wanted:
            return
        out = self.repo.run("cat-file", "--batch", stdin="".join(f"{b}\n" for b in wanted).encode())
        pos = 0
        for blob in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            if header[-1] == b"missing":
                self._parsed[blob], pos = BadYaml("file content is missing from the clone"), end + 1
                continue
            size = int(header[2])
            text = out[end + 1:end + 1 + size]
            pos = end + 2 + size
            try:
                self._parsed[blob] = parse_images(text)
            except BadYaml as exc:
                self._parsed[blob] = exc
                self._texts[blob] = text

    def history(self) -> list[tuple[str, dt.datetime, list[tuple[str, str | None]]]]:
        """(commit, committer time, [(path, blob or None when deleted)]) along first parents,
        oldest first, for the commits that change a YAML file the pattern covers."""
        tip = self.repo.head_of(self.branch)
        if tip is None:
            return []
        commits = []
        for head, tail in self.repo.records(
            "log", "--first-parent", "--diff-merges=first-parent", "--no-renames", "--raw",
            "--no-abbrev", "-z", "--reverse", "--format=%x1e%H%x00%ct", "--end-of-options", tip,
            "--", self.pattern.pathspec, fields=2,
        ):
            changes = []
            for meta, path in zip(tail[0::2], tail[1::2], strict=False):
                _, mode, _, blob, _ = meta.decode().split(" ", 4)
                name = path.decode("utf-8", "replace")
                if name.endswith(YAML_SUFFIXES) and self.pattern.match(name):
                    # Mode 000000 is a deletion; symlinks and submodules are not YAML data.
                    if mode == "000000" or blob == _NO_BLOB:
                        changes.append((name, None))
                    elif mode.startswith("100"):
                        changes.append((name, blob))
            at = dt.datetime.fromtimestamp(int(head[1]), dt.UTC)
            commits.append((head[0].decode(), at, changes))
        return commits

    def walk(self) -> tuple[list[Bump], list[BadFile]]:
        """Every change of a service's tag per environment, and the files that could not be read.

        A file that cannot be read keeps its last good version: the operator could not have
        applied the broken one either.
        """
        commits = self.history()
        self._load([b for _, _, changes in commits for _, b in changes if b])
        files: dict[str, dict[str, tuple[str | None, list[ImageRef]]]] = defaultdict(dict)
        current: dict[tuple[str, str], str | None] = {}
        bumps: list[Bump] = []
        bad: list[BadFile] = []
        for sha, at, changes in commits:
            touched: set[str] = set()
            for path, blob in changes:
                environment, path_service = self.pattern.match(path) or ("", None)
                if blob is None:
                    files[environment].pop(path, None)
                elif isinstance(parsed := self._parsed[blob], BadYaml):
                    text = self._texts.get(blob, b"").decode("utf-8", "replace")
                    bad.append(BadFile(path, sha, parsed, text))
                    continue
                else:
                    files[environment][path] = (path_service, parsed)
                touched.add(environment)
            for environment in sorted(touched):
                tags = pick_tags(files[environment], self.index)
                for service in self.services:
                    new = tags.get(service.name)
                    key = (service.name, environment)
                    if new and new[0] != current.get(key):
                        bumps.append(Bump(service.name, environment, new[0], new[1], sha, at))
                    current[key] = new[0] if new else None
        return bumps, bad

    def tags_at(self, commit: str) -> dict[tuple[str, str], str]:
        """(service, environment) → image tag in the tree of `commit` (for operator revisions)."""
        if commit not in self._at:
            listing = self.repo.run("ls-tree", "-r", "-z", "--full-tree", commit)
            entries = []
            for line in listing.split(b"\0"):
                meta, _, path = line.decode("utf-8", "replace").partition("\t")
                parts = meta.split()
                matched = self.pattern.match(path) if path.endswith(YAML_SUFFIXES) else None
                if matched and len(parts) == 3 and parts[1] == "blob":
                    entries.append((path, parts[2], matched))
            self._load([blob for _, blob, _ in entries])
            files: dict[str, dict[str, tuple[str | None, list[ImageRef]]]] = defaultdict(dict)
            for path, blob, (environment, path_service) in entries:
                parsed = self._parsed[blob]
                if not isinstance(parsed, BadYaml):
                    files[environment][path] = (path_service, parsed)
            self._at[commit] = {
                (service, environment): tag
                for environment, env_files in files.items()
                for service, (tag, _) in pick_tags(env_files, self.index).items()
            }
        return self._at[commit]


def app_repos(config: DoraConfig) -> dict[str, GitRepo]:
    """The app clone of each service: a `git` source naming the service, else one of its repo."""
    found: dict[str, GitRepo] = {}
    sources = sorted(config.sources_of("git"), key=lambda s: s.service is None)
    for source in sources:
        path = config.resolve(source.path)
        repo_name = repo_name_of(source, config, path)
        for service in config.services:
            if source.service == service.name or (source.service is None
                                                   and repo_name == service.repo):
                found.setdefault(service.name, GitRepo(path))
    return found


def config_repos(config: DoraConfig) -> list[ConfigRepo]:
    """One `ConfigRepo` per gitops source of the config."""
    return [ConfigRepo(config.resolve(s.path), s.branch, s.files, list(config.services))
            for s in config.sources_of("gitops")]


def resolve_tags(tags: dict[str, set[str]], apps: dict[str, GitRepo]) -> dict[tuple[str, str],
                                                                              str | None]:
    """(service, image tag) → full app commit SHA, in one batch per app repo.

    Without an app clone only a tag that spells out a full SHA can be trusted.
    """
    out: dict[tuple[str, str], str | None] = {}
    for service, names in tags.items():
        repo = apps.get(service)
        resolved = repo.resolve_versions(names) if repo else {n: full_sha_in(n) for n in names}
        out.update({(service, n): sha for n, sha in resolved.items()})
    return out


def unresolved_reason(service: str, tag: str, apps: dict[str, GitRepo]) -> str:
    repo = apps.get(service)
    if repo is None:
        return (f"image tag {tag!r} of {service} is not a full commit SHA, and no `git` source "
                f"gives {service}'s app repo to resolve it through")
    return f"image tag {tag!r} of {service} is neither a tag nor a commit of {repo.path}"


def link_rollbacks(rows: list[dict[str, Any]],
                   ancestry: Callable[[str, str, str], bool | None]) -> None:
    """Set `rollback_of` on successful deployments that go back to an earlier revision.

    Per service and environment, in time order: a deployment whose revision is a strict ancestor
    of the one it replaces (`ancestry(service, older, newer)`) rolls that one back. Where the
    graph is unknown, going back to a revision first deployed before the current one counts.
    Moving forward again after a rollback is not a rollback.
    """
    sequences: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["finished_at"], r["id"])):
        if row["status"] == "success":
            sequences[(row["service"], row["environment"])].append(row)
    for (service, _), sequence in sequences.items():
        first_seen: dict[str, int] = {}
        previous: dict[str, Any] | None = None
        for index, row in enumerate(sequence):
            first_seen.setdefault(row["revision"], index)
            if previous is not None and row["revision"] != previous["revision"]:
                back = ancestry(service, row["revision"], previous["revision"])
                if back is None:
                    back = first_seen[row["revision"]] < first_seen[previous["revision"]]
                if back:
                    row["rollback_of"] = previous["id"]
            previous = row


def app_ancestry(apps: dict[str, GitRepo]) -> Callable[[str, str, str], bool | None]:
    """`ancestry(service, older, newer)` through each service's app clone (None without one)."""
    def ancestry(service: str, older: str, newer: str) -> bool | None:
        repo = apps.get(service)
        return repo.is_ancestor(older, newer) if repo else None
    return ancestry


def read_gitops(source: GitopsSource, config: DoraConfig, name: str) -> FilesResult:
    """Deployments (and quarantined files and tags) of one gitops config repo."""
    path = config.resolve(source.path)
    config_repo = ConfigRepo(path, source.branch, source.files, list(config.services))
    config_repo.repo.check()
    if not source.deployments:
        return FilesResult()  # a lookup for operator revisions only
    bumps, bad_files = config_repo.walk()
    apps = app_repos(config)
    wanted: dict[str, set[str]] = defaultdict(set)
    for bump in bumps:
        wanted[bump.service].add(bump.tag)
    revisions = resolve_tags(wanted, apps)
    result = FilesResult()
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = [
        {"source": name, "file": f"{b.path}@{b.commit[:12]}", "line": b.error.line,
         "entity": "deployments", "record_key": b.commit, "field": None,
         "reason": f"{b.path} at commit {b.commit[:12]}: {b.error.reason}", "raw": b.text[:10_000]}
        for b in bad_files
    ]
    index = {s.name: i for i, s in enumerate(config.services, start=1)}
    for bump in bumps:
        deployment_id = f"gitops-{bump.service}-{bump.environment}-{bump.commit[:12]}"
        revision = revisions[(bump.service, bump.tag)]
        if revision is None:
            # `line` holds the service's position in the config: one file at one commit can
            # carry unresolved tags for several services, and each needs its own quarantine key.
            bad.append({"source": name, "file": f"{bump.file}@{bump.commit[:12]}",
                        "line": index[bump.service], "entity": "deployments",
                        "record_key": deployment_id, "field": "revision",
                        "reason": unresolved_reason(bump.service, bump.tag, apps),
                        "raw": bump.tag})
            continue
        rows.append({"id": deployment_id, "service": bump.service,
                     "environment": bump.environment, "revision": revision, "started_at": None,
                     "finished_at": bump.at, "status": "success", "rollback_of": None,
                     "fix_for": None, "labels": None, "source": name})
    link_rollbacks(rows, app_ancestry(apps))
    result.tally.read["deployments"] = len(rows) + len(bad)
    result.tally.loaded["deployments"] = len(rows)
    result.tally.quarantined["deployments"] = len(bad)
    result.frames["deployments"] = pl.DataFrame(rows, schema=SCHEMAS["deployments"])
    result.quarantine = quarantine_frame(bad)
    return result


def gitops_fingerprint(source: GitopsSource, config: DoraConfig, name: str) -> str:
    """What decides whether a `gitops` source changed: the refs of its config repo and of every
    app clone its tags resolve through, and the settings."""
    repo = GitRepo(config.resolve(source.path))
    repo.check()
    apps = {service: repo_state(app) for service, app in sorted(app_repos(config).items())}
    return settings_digest("gitops-1", name, repo_state(repo), apps, source, config.services)
