"""GitHub payloads → canonical rows (metrics/schema.py), or quarantine rows saying why not.

Pure functions of the raw items: the sync calls them on fresh pages, `renormalise` on stored ones,
with the same result. Every row goes through `records.convert`, the checks every source shares.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metrics.schema import KEYS
from pipelines.config import DoraConfig
from pipelines.sources.base import Tally
from pipelines.sources.records import BadRecord, convert, parse_timestamp

RAW_LIMIT = 10_000
TERMINAL = {"SUCCESS": "success", "FAILURE": "failure", "ERROR": "error"}
RUN_CONCLUSIONS = {
    "success": "success", "failure": "failure", "timed_out": "failure",
    "startup_failure": "failure", "cancelled": "cancelled", "action_required": "in_progress",
}
PREVIEW_EVENTS = {"pull_request", "pull_request_target"}


@dataclass(frozen=True)
class RepoInfo:
    """What normalising needs besides the payload."""

    repo: str  # owner/name
    source: str  # the configured source's name
    service: str  # the service deployments and incidents of this repo belong to


def service_for_repo(config: DoraConfig, repo: str) -> str:
    """The first configured service of `repo`; else the repo itself (it lands in `unassigned`)."""
    for service in config.services:
        if service.repo.lower() == repo.lower():
            return service.name
    return repo


@dataclass
class Normalised:
    """Rows per canonical entity, quarantine rows, the tally, and items deliberately skipped."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, entity: str, raw: dict[str, Any], info: RepoInfo, file: str, line: int,
            payload: Any, updated_at: Any = None) -> None:
        """Convert `raw` into a row of `entity`, or quarantine it with the reason. `updated_at`
        (the API's update time of the record) decides between versions of it in the build."""
        self.tally.read[entity] += 1
        try:
            row = convert(entity, raw)
        except BadRecord as exc:
            self.reject(entity, exc, info, file, line, payload, raw)
            return
        try:
            updated = parse_timestamp(updated_at, "updatedAt") if updated_at else None
        except BadRecord:
            updated = None  # an unreadable update time only loses the tie-break
        self.rows.setdefault(entity, []).append(row | {"source": info.source,
                                                       "_updated_at": updated})
        self.tally.loaded[entity] += 1

    def reject(self, entity: str, exc: BadRecord, info: RepoInfo, file: str, line: int,
               payload: Any, raw: dict[str, Any] | None = None) -> None:
        """Quarantine one record of `entity` (`file` = API path, `line` = index in the page)."""
        key = None
        if raw:
            key = "/".join(str(raw[k]) for k in KEYS[entity] if raw.get(k) is not None) or None
        self.quarantine.append({
            "source": info.source, "file": file, "line": line, "entity": entity,
            "record_key": key, "field": exc.field, "reason": exc.reason,
            "raw": json.dumps(payload, sort_keys=True, default=str)[:RAW_LIMIT],
        })
        self.tally.quarantined[entity] += 1


def normalise_page(kind: str, items: list[dict[str, Any]], path: str,
                   info: RepoInfo) -> Normalised:
    """Normalise one page of `kind` items (see NORMALISERS)."""
    out = Normalised()
    for index, item in enumerate(items):
        kind_of_item = _kind_of(kind, item)
        _guarded(out, ENTITY_OF[kind_of_item], info, path, index, item,
                 lambda k=kind_of_item, i=item, n=index: NORMALISERS[k](i, info, out, path, n))
    return out


def _guarded(out: Normalised, entity: str, info: RepoInfo, file: str, line: int, payload: Any,
             normalise: Callable[[], None]) -> None:
    """Run `normalise`; a payload of an unexpected shape is quarantined, not fatal.

    Normalisers read everything they need before `Normalised.add`, so a shape error means the
    record was not counted yet: it is counted here, as read and quarantined.
    """
    try:
        normalise()
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        reason = f"unexpected payload shape ({type(exc).__name__}: {exc})"[:300]
        out.tally.read[entity] += 1
        out.reject(entity, BadRecord(None, reason), info, file, line, payload)


def _kind_of(kind: str, item: dict[str, Any]) -> str:
    # Revisit pages mix deployments and releases; GraphQL names each node's type.
    if kind == "node":
        return {"Deployment": "deployment", "Release": "release"}.get(
            item.get("__typename", ""), "deployment"
        )
    return kind


def _pull_request(item: dict[str, Any], info: RepoInfo, out: Normalised, path: str,
                  index: int) -> None:
    author, is_bot = actor(item.get("author"))
    commits = [n["commit"] for n in item["commits"]["nodes"]]
    reviews = []
    for review in item["reviews"]["nodes"]:
        if not review.get("submittedAt"):  # a pending review is not a review yet
            continue
        reviewer, _ = actor(review.get("author"))
        reviews.append({"author": reviewer, "submitted_at": review["submittedAt"],
                        "state": review.get("state")})
    merged = item.get("mergedAt")
    out.add("pull_requests", {
        "repo": info.repo, "number": item.get("number"), "title": item.get("title"),
        "author": author, "author_is_bot": is_bot, "created_at": item.get("createdAt"),
        "merged_at": merged, "closed_at": item.get("closedAt"),
        "base_branch": item.get("baseRefName"),
        # Only a merged PR has a merge commit (GitHub's test merge of an open PR is not one).
        "merge_commit_sha": (item.get("mergeCommit") or {}).get("oid") if merged else None,
        "commit_shas": [c["oid"] for c in commits],
        "reviews": reviews,
        "labels": [label["name"] for label in item["labels"]["nodes"]],
        "files": [f["path"] for f in ((item.get("files") or {}).get("nodes") or [])] or None,
    }, info, path, index, item, item.get("updatedAt"))
    where = f"{path} [{index}].commits"
    for position, commit in enumerate(commits):
        _guarded(out, "commits", info, where, position, commit,
                 lambda c=commit, p=position: _graphql_commit(c, info, out, where, p))


def _graphql_commit(commit: dict[str, Any], info: RepoInfo, out: Normalised, file: str,
                    line: int) -> None:
    author = commit.get("author") or {}
    out.add("commits", {
        "repo": info.repo, "sha": commit.get("oid"),
        "parents": [p["oid"] for p in commit["parents"]["nodes"]],
        "authored_at": commit.get("authoredDate"), "committed_at": commit.get("committedDate"),
        "author": (author.get("user") or {}).get("login") or author.get("name"),
        "message": commit.get("message"),
    }, info, file, line, commit)


def _rest_commit(item: dict[str, Any], info: RepoInfo, out: Normalised, path: str,
                 index: int) -> None:
    body = item.get("commit") or {}
    git_author = body.get("author") or {}
    out.add("commits", {
        "repo": info.repo, "sha": item.get("sha"),
        "parents": [p["sha"] for p in item.get("parents") or []],
        "authored_at": git_author.get("date"),
        "committed_at": (body.get("committer") or {}).get("date"),
        "author": (item.get("author") or {}).get("login") or git_author.get("name"),
        "message": body.get("message"),
    }, info, path, index, item)


def deployment_outcome(item: dict[str, Any]) -> tuple[str, str | None]:
    """(status, finished_at) of a GraphQL deployment, from its statuses.

    The final status is the last SUCCESS/FAILURE/ERROR: GitHub later marks a superseded deployment
    INACTIVE, which must not move its finish. INACTIVE with no result before it means it was
    replaced before finishing (cancelled); no result yet means in_progress, finishing "so far" at
    its latest status.
    """
    statuses = sorted(item["statuses"]["nodes"], key=lambda s: s.get("createdAt") or "")
    results = [s for s in statuses if s.get("state") in TERMINAL]
    if results:
        return TERMINAL[results[-1]["state"]], results[-1].get("createdAt")
    inactive = [s for s in statuses if s.get("state") == "INACTIVE"]
    if inactive:
        return "cancelled", inactive[0].get("createdAt")
    if item.get("state") in {"ABANDONED", "DESTROYED"}:
        return "cancelled", item.get("updatedAt")
    return "in_progress", statuses[-1].get("createdAt") if statuses else item.get("createdAt")


def _deployment(item: dict[str, Any], info: RepoInfo, out: Normalised, path: str,
                index: int) -> None:
    status, finished = deployment_outcome(item)
    out.add("deployments", {
        "id": f"gh-{info.repo}-{item.get('databaseId')}", "service": info.service,
        "environment": item.get("environment"), "revision": item.get("commitOid"),
        "started_at": item.get("createdAt"), "finished_at": finished, "status": status,
        "labels": [item["task"]] if item.get("task") not in (None, "deploy") else None,
    }, info, path, index, item)


def _release(item: dict[str, Any], info: RepoInfo, out: Normalised, path: str,
             index: int) -> None:
    # Drafts are not out yet (the sync revisits them); pre-releases are not production.
    if item.get("isDraft") or item.get("isPrerelease"):
        out.skipped["releases"] += 1
        return
    created, published = item.get("createdAt"), item.get("publishedAt")
    out.add("deployments", {
        "id": f"gh-{info.repo}-release-{item.get('databaseId')}", "service": info.service,
        "environment": "production", "revision": (item.get("tagCommit") or {}).get("oid"),
        # A release may be created from an older tag: the start only counts if it comes first.
        "started_at": created if created and published and created <= published else None,
        "finished_at": published, "status": "success",
    }, info, path, index, item)


def _issue(item: dict[str, Any], info: RepoInfo, out: Normalised, path: str, index: int) -> None:
    labels = [label["name"] for label in item["labels"]["nodes"]]
    out.add("incidents", {
        "id": f"gh-{info.repo}-issue-{item.get('number')}", "service": info.service,
        "title": item.get("title"), "opened_at": item.get("createdAt"),
        "resolved_at": item.get("closedAt") if item.get("state") == "CLOSED" else None,
        "severity": _label_value(labels, ("severity:", "sev:")),
        "cause": _label_value(labels, ("cause:",)),
    }, info, path, index, item)


def run_outcome(run: dict[str, Any]) -> str | None:
    """Status of a workflow run as a deployment; None for runs that deploy nothing (skipped)."""
    if run.get("status") != "completed":
        return "in_progress"
    return RUN_CONCLUSIONS.get(run.get("conclusion") or "")


def _workflow_run(run: dict[str, Any], info: RepoInfo, out: Normalised, path: str,
                  index: int) -> None:
    status = run_outcome(run)
    if status is None:
        out.skipped["workflow_runs"] += 1
        return
    out.add("deployments", {
        "id": f"gh-{info.repo}-run-{run.get('id')}", "service": info.service,
        "environment": "preview" if run.get("event") in PREVIEW_EVENTS else "production",
        "revision": run.get("head_sha"),
        "started_at": run.get("run_started_at") or run.get("created_at"),
        "finished_at": run.get("updated_at"), "status": status,
    }, info, path, index, run)


def actor(value: dict[str, Any] | None) -> tuple[str | None, bool]:
    """(login, is_bot) of a GraphQL actor; bots get the `[bot]` suffix REST and git show."""
    if not value:
        return None, False
    login = value.get("login")
    is_bot = value.get("__typename") == "Bot" or bool(login and login.endswith("[bot]"))
    if is_bot and login and not login.endswith("[bot]"):
        login = f"{login}[bot]"
    return login, is_bot


def _label_value(labels: list[str], prefixes: tuple[str, ...]) -> str | None:
    for label in labels:
        for prefix in prefixes:
            if label.lower().startswith(prefix):
                return label[len(prefix):].strip() or None
    return None


Normaliser = Callable[[dict[str, Any], RepoInfo, Normalised, str, int], None]
NORMALISERS: dict[str, Normaliser] = {
    "pull_request": _pull_request, "commit": _rest_commit, "deployment": _deployment,
    "release": _release, "issue": _issue, "workflow_run": _workflow_run,
}
ENTITY_OF = {
    "pull_request": "pull_requests", "commit": "commits", "deployment": "deployments",
    "release": "deployments", "issue": "incidents", "workflow_run": "deployments",
}
