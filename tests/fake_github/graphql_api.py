"""The fake GraphQL endpoint: GitHub's real schema, executed by graphql-core over FakeRepos.

Queries are validated against /work/shared/reference/github/schema.graphql (or `DORA_GITHUB_SCHEMA`)
exactly as GitHub would, so a field GitHub lacks fails here too. Resolvers are plain dicts whose
connection fields are functions of their arguments; connections page with opaque keyset cursors
(the sort key of the last node), so a cursor stays valid while items are added, as on GitHub.
Errors carry GitHub's top-level `type` (NOT_FOUND, EXCESSIVE_PAGINATION, ...).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import graphql

from fake_github.model import (
    FakeDeployment,
    FakeIssue,
    FakePullRequest,
    FakeRelease,
    FakeRepo,
)

SCHEMA_PATH = Path(
    os.environ.get("DORA_GITHUB_SCHEMA", "/work/shared/reference/github/schema.graphql")
)
MAX_PAGE = 100


class GithubGraphQLError(Exception):
    """An error GitHub reports with a `type`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@cache
def schema() -> graphql.GraphQLSchema:
    """GitHub's schema, built once per process (about three seconds)."""
    built = graphql.build_schema(SCHEMA_PATH.read_text(encoding="utf-8"), assume_valid_sdl=True)
    # The published dump repeats a few fields, which trips graphql-core's strict interface checks.
    built._validation_errors = []  # noqa: SLF001
    return built


def execute(repos: dict[str, FakeRepo], query: str, variables: dict[str, Any] | None) -> dict:
    """Run `query` as GitHub would; returns the response body."""
    missing: list[dict[str, Any]] = []

    def nodes(ids: list[str], **_: Any) -> list[Any]:
        # GitHub answers a missing id with null in its place and a NOT_FOUND error for it.
        found = []
        for index, node_id in enumerate(ids):
            try:
                found.append(_node(repos, node_id))
            except GithubGraphQLError as exc:
                found.append(None)
                missing.append({"type": exc.kind, "path": ["nodes", index], "message": str(exc)})
        return found

    root = {
        "repository": lambda owner, name, **_: _repository(repos, owner, name),
        "node": lambda id, **_: _node(repos, id),  # noqa: A006
        "nodes": nodes,
    }
    result = graphql.graphql_sync(schema(), query, root_value=root,
                                  variable_values=variables or {}, field_resolver=_resolve)
    body: dict[str, Any] = {"data": result.data}
    errors = [_format(e) for e in result.errors or []] + missing
    if errors:
        body["errors"] = errors
    return body


def _resolve(source: Any, info: graphql.GraphQLResolveInfo, **args: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else None
    return value(**args) if callable(value) else value


def _format(error: graphql.GraphQLError) -> dict[str, Any]:
    out = error.formatted
    original = error.original_error
    if isinstance(original, GithubGraphQLError):
        out["type"] = original.kind
    return out


def _repository(repos: dict[str, FakeRepo], owner: str, name: str) -> dict[str, Any]:
    repo = repos.get(f"{owner}/{name}".lower())
    if repo is None:
        raise GithubGraphQLError(
            "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
        )
    return repository_view(repo)


def _node(repos: dict[str, FakeRepo], node_id: str) -> Any:
    for repo in repos.values():
        found = repo.node(node_id)
        if found is not None:
            return VIEWS[type(found)](repo, found)
    raise GithubGraphQLError(
        "NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'"
    )


# --- connections ---------------------------------------------------------------------------

def _cursor(key: Any) -> str:
    return base64.b64encode(f"cursor:v2:{json.dumps(key)}".encode()).decode()


def _uncursor(cursor: str) -> Any:
    try:
        text = base64.b64decode(cursor.encode()).decode()
        return json.loads(text.removeprefix("cursor:v2:"))
    except ValueError:
        raise GithubGraphQLError("INVALID_CURSOR_ARGUMENTS",
                                 f"`{cursor}` does not appear to be a valid cursor.") from None


def connection(items: Iterable[Any], args: dict[str, Any], view: Callable[[Any], Any],
               key: Callable[[Any], Any], descending: bool = False, name: str = "nodes") -> dict:
    """A GitHub connection over `items` ordered by `key`, paged by `first`/`after`."""
    first = args.get("first")
    if first is None:
        raise GithubGraphQLError("MISSING_PAGINATION_BOUNDARIES",
                                 f"You must provide a `first` or `last` value to properly "
                                 f"paginate the `{name}` connection.")
    if first > MAX_PAGE or first < 0:
        raise GithubGraphQLError("EXCESSIVE_PAGINATION",
                                 f"Requesting {first} records on the `{name}` connection exceeds "
                                 f"the `first` limit of {MAX_PAGE} records.")
    ordered = sorted(items, key=key, reverse=descending)
    keys = [list(key(i)) if isinstance(key(i), tuple) else key(i) for i in ordered]
    start = 0
    if args.get("after"):
        after = _uncursor(args["after"])
        start = next(
            (n for n, k in enumerate(keys) if (k < after if descending else k > after)),
            len(keys),
        )
    page = ordered[start:start + first]
    end = start + len(page)
    return {
        "totalCount": len(ordered),
        "pageInfo": {
            "hasNextPage": end < len(ordered), "hasPreviousPage": start > 0,
            "startCursor": _cursor(keys[start]) if page else None,
            "endCursor": _cursor(keys[end - 1]) if page else None,
        },
        "nodes": lambda **_: [view(i) for i in page],
        # Built only when a query asks for edges: views are the costly part of a page.
        "edges": lambda **_: [{"cursor": _cursor(k), "node": view(i)}
                              for i, k in zip(page, keys[start:end], strict=True)],
    }


def _positional(values: list[Any], view: Callable[[Any], Any], name: str) -> Callable[..., dict]:
    indexed = list(enumerate(values))
    return lambda **args: connection(indexed, args, lambda pair: view(pair[1]),
                                     key=lambda pair: pair[0], name=name)


def iso(value: dt.datetime | None) -> str | None:
    """GitHub's DateTime: UTC with a Z."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _order(args: dict[str, Any], default: str) -> tuple[str, bool]:
    order = args.get("orderBy") or {"field": default, "direction": "ASC"}
    return order["field"], order["direction"] == "DESC"


# --- views ---------------------------------------------------------------------------------

def actor(login: str | None, bot: bool = False) -> dict[str, Any] | None:
    """A GraphQL actor; GitHub shows bots without the `[bot]` suffix REST uses."""
    if login is None:
        return None
    if bot:
        return {"__typename": "Bot", "login": login.removesuffix("[bot]")}
    return {"__typename": "User", "login": login}


def commit_view(repo: FakeRepo, sha: str) -> dict[str, Any]:
    c = repo.commits[sha]
    return {
        "__typename": "Commit", "id": f"C_{sha}", "oid": sha, "abbreviatedOid": sha[:7],
        # GitTimestamp keeps the author's offset.
        "authoredDate": c.authored_at.isoformat(), "committedDate": c.committed_at.isoformat(),
        "message": c.message, "messageHeadline": c.message.splitlines()[0],
        "author": {"name": c.author_name, "email": f"{c.author_name}@example.com",
                   "user": {"__typename": "User", "login": c.author_login}
                   if c.author_login else None},
        "parents": _positional(c.parents, lambda s: commit_view(repo, s), "parents"),
    }


def pull_request_view(repo: FakeRepo, pr: FakePullRequest) -> dict[str, Any]:
    return {
        "__typename": "PullRequest", "id": pr.node_id, "number": pr.number, "title": pr.title,
        "state": pr.state, "createdAt": iso(pr.created_at), "updatedAt": iso(pr.updated_at),
        "mergedAt": iso(pr.merged_at), "closedAt": iso(pr.closed_at), "baseRefName": pr.base,
        "merged": pr.merged_at is not None,
        "author": actor(pr.author, pr.author_is_bot),
        "mergeCommit": commit_view(repo, pr.merge_commit_sha) if pr.merge_commit_sha else None,
        "labels": _positional(pr.labels, lambda n: {"name": n}, "labels"),
        "files": _positional(pr.files, lambda p: {"__typename": "PullRequestChangedFile",
                                                  "path": p}, "files"),
        "commits": _positional(
            pr.commit_shas,
            lambda s: {"__typename": "PullRequestCommit", "commit": commit_view(repo, s)},
            "commits",
        ),
        "reviews": _positional(pr.reviews, lambda r: {
            "__typename": "PullRequestReview", "author": actor(r.author, r.is_bot),
            "submittedAt": iso(r.submitted_at), "state": r.state,
        }, "reviews"),
    }


def deployment_view(repo: FakeRepo, d: FakeDeployment) -> dict[str, Any]:
    # GitHub lists a deployment's statuses newest first.
    statuses = sorted(d.statuses, key=lambda s: s[1], reverse=True)
    status_views = [{"__typename": "DeploymentStatus", "state": state, "createdAt": iso(at)}
                    for state, at in statuses]
    return {
        "__typename": "Deployment", "id": d.node_id, "databaseId": d.database_id,
        "environment": d.environment, "originalEnvironment": d.environment,
        "createdAt": iso(d.created_at), "updatedAt": iso(d.updated_at), "commitOid": d.sha,
        "commit": commit_view(repo, d.sha) if d.sha in repo.commits else None,
        "state": d.state, "task": d.task,
        "latestStatus": status_views[0] if status_views else None,
        "statuses": _positional(status_views, lambda v: v, "statuses"),
    }


def release_view(repo: FakeRepo, r: FakeRelease) -> dict[str, Any]:
    return {
        "__typename": "Release", "id": r.node_id, "databaseId": r.database_id,
        "tagName": r.tag_name, "name": r.tag_name, "createdAt": iso(r.created_at),
        "publishedAt": iso(r.published_at), "isDraft": r.is_draft,
        "isPrerelease": r.is_prerelease,
        "tagCommit": commit_view(repo, r.sha) if r.sha in repo.commits else None,
    }


def issue_view(repo: FakeRepo, i: FakeIssue) -> dict[str, Any]:
    return {
        "__typename": "Issue", "id": i.node_id, "number": i.number, "title": i.title,
        "state": "CLOSED" if i.closed_at else "OPEN", "createdAt": iso(i.created_at),
        "updatedAt": iso(i.updated_at), "closedAt": iso(i.closed_at),
        "author": actor(i.author),
        "labels": _positional(i.labels, lambda n: {"name": n}, "labels"),
    }


VIEWS: dict[type, Callable[[FakeRepo, Any], dict[str, Any]]] = {
    FakePullRequest: pull_request_view, FakeDeployment: deployment_view,
    FakeRelease: release_view, FakeIssue: issue_view,
}


def repository_view(repo: FakeRepo) -> dict[str, Any]:
    def pull_requests(**args: Any) -> dict:
        field, desc = _order(args, "CREATED_AT")
        attr = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}[field]
        items = list(repo.pull_requests.values())
        if args.get("states"):
            items = [p for p in items if p.state in args["states"]]
        return connection(items, args, lambda p: pull_request_view(repo, p),
                          key=lambda p: (iso(getattr(p, attr)), p.number), descending=desc,
                          name="pullRequests")

    def by_creation(table: dict[int, Any], view: Callable[..., dict], name: str) -> Callable:
        def resolve(**args: Any) -> dict:
            _field, desc = _order(args, "CREATED_AT")
            items = list(table.values())
            if name == "deployments" and args.get("environments"):
                items = [d for d in items if d.environment in args["environments"]]
            return connection(items, args, lambda x: view(repo, x),
                              key=lambda x: (iso(x.created_at), x.database_id),
                              descending=desc, name=name)
        return resolve

    def issues(**args: Any) -> dict:
        field, desc = _order(args, "CREATED_AT")
        attr = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}[field]
        filters = args.get("filterBy") or {}
        wanted = set(filters.get("labels") or args.get("labels") or [])
        since = filters.get("since")
        items = [
            i for i in repo.issues.values()
            # GitHub's label filter matches issues carrying any of the labels.
            if (not wanted or wanted & set(i.labels)) and (not since or iso(i.updated_at) >= since)
        ]
        return connection(items, args, lambda i: issue_view(repo, i),
                          key=lambda i: (iso(getattr(i, attr)), i.number), descending=desc,
                          name="issues")

    head = repo.head
    return {
        "__typename": "Repository", "id": f"R_{repo.database_id}",
        "databaseId": repo.database_id, "name": repo.name, "nameWithOwner": repo.full_name,
        "createdAt": iso(repo.created_at),
        "defaultBranchRef": {"__typename": "Ref", "name": repo.default_branch,
                             "target": commit_view(repo, head)} if head else None,
        "pullRequests": pull_requests,
        "deployments": by_creation(repo.deployments, deployment_view, "deployments"),
        "releases": by_creation(repo.releases, release_view, "releases"),
        "issues": issues,
    }
