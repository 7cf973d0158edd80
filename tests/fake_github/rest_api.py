"""The fake REST endpoints the GitHub source uses, with GitHub's payload shapes and `Link` pages.

Routes (under /api/v3): /rate_limit, /repos/{o}/{r}, /repos/{o}/{r}/commits,
/repos/{o}/{r}/compare/{base}...{head}, /repos/{o}/{r}/actions/workflows,
/repos/{o}/{r}/actions/workflows/{id or file}/runs, /repos/{o}/{r}/actions/runs/{id}.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from fake_github.graphql_api import iso
from fake_github.model import FakeRepo, FakeRun

RUN_LISTING_CAP = 1000  # filtered run listings stop here on GitHub
NOT_FOUND = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
             "status": "404"}

Reply = tuple[int, Any, dict[str, str]]


def route(repos: dict[str, FakeRepo], path: str, query: dict[str, str], url_base: str) -> Reply:
    """Answer GET `path` (without the /api/v3 prefix)."""
    match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
    if not match:
        return 404, NOT_FOUND, {}
    repo = repos.get(f"{match.group(1)}/{match.group(2)}".lower())
    if repo is None:
        return 404, NOT_FOUND, {}
    rest = match.group(3) or ""
    api = f"{url_base}/repos/{repo.full_name}"
    for pattern, handler in ROUTES:
        found = re.fullmatch(pattern, rest)
        if found:
            return handler(repo, query, api, *found.groups())
    return 404, NOT_FOUND, {}


def _repository(repo: FakeRepo, query: dict[str, str], api: str) -> Reply:
    return 200, {"id": repo.database_id, "full_name": repo.full_name, "name": repo.name,
                 "owner": {"login": repo.owner}, "default_branch": repo.default_branch,
                 "created_at": iso(repo.created_at), "url": api}, {}


def commit_json(repo: FakeRepo, sha: str, api: str) -> dict[str, Any]:
    c = repo.commits[sha]
    user = {"login": c.author_login, "id": abs(hash(c.author_login)) % 10**6,
            "type": "Bot" if c.author_login.endswith("[bot]") else "User"} \
        if c.author_login else None
    return {
        "sha": sha, "node_id": f"C_{sha}", "url": f"{api}/commits/{sha}",
        "commit": {
            "author": {"name": c.author_name, "email": f"{c.author_name}@example.com",
                       "date": iso(c.authored_at)},
            "committer": {"name": c.author_name, "email": f"{c.author_name}@example.com",
                          "date": iso(c.committed_at)},
            "message": c.message, "tree": {"sha": "0" * 40},
        },
        "author": user, "committer": user,
        "parents": [{"sha": p, "url": f"{api}/commits/{p}"} for p in c.parents],
    }


def _commits(repo: FakeRepo, query: dict[str, str], api: str) -> Reply:
    ref = query.get("sha") or repo.default_branch
    start = repo.branches.get(ref, ref)
    if start not in repo.commits:
        return 404, {"message": "No commit found for SHA: " + ref}, {}
    shas = repo.history(start)
    if query.get("since"):
        shas = [s for s in shas if iso(repo.commits[s].committed_at) >= query["since"]]
    return _paged([commit_json(repo, s, api) for s in shas], query, f"{api}/commits")


def _compare(repo: FakeRepo, query: dict[str, str], api: str, base: str, head: str) -> Reply:
    if base not in repo.commits or head not in repo.commits:
        return 404, NOT_FOUND, {}
    ahead = repo.compare(base, head)
    behind = repo.compare(head, base)
    status = ("identical" if not ahead and not behind else "ahead" if not behind
              else "behind" if not ahead else "diverged")
    per_page, page = _page_args(query, default=250, maximum=250)
    chunk = ahead[(page - 1) * per_page: page * per_page]
    body = {
        "status": status, "ahead_by": len(ahead), "behind_by": len(behind),
        "total_commits": len(ahead), "base_commit": commit_json(repo, base, api),
        "commits": [commit_json(repo, s, api) for s in chunk],
        "files": [],
    }
    return 200, body, _links(f"{api}/compare/{base}...{head}", query, page,
                             max(1, -(-len(ahead) // per_page)))


def _workflows(repo: FakeRepo, query: dict[str, str], api: str) -> Reply:
    flows = [{"id": f.id, "name": f.name, "path": f.path, "state": "active"}
             for f in repo.workflows.values()]
    return 200, {"total_count": len(flows), "workflows": flows}, {}


def run_json(run: FakeRun, api: str) -> dict[str, Any]:
    return {
        "id": run.id, "workflow_id": run.workflow_id, "head_sha": run.head_sha,
        "head_branch": run.head_branch, "event": run.event, "status": run.status,
        "conclusion": run.conclusion, "created_at": iso(run.created_at),
        "run_started_at": iso(run.created_at), "updated_at": iso(run.updated_at),
        "url": f"{api}/actions/runs/{run.id}",
    }


def _runs(repo: FakeRepo, query: dict[str, str], api: str, workflow: str) -> Reply:
    flow = next((f for f in repo.workflows.values()
                 if str(f.id) == workflow or f.path.rsplit("/", 1)[-1] == workflow), None)
    if flow is None:
        return 404, NOT_FOUND, {}
    runs = [r for r in repo.runs.values() if r.workflow_id == flow.id]
    created = query.get("created")
    if created:
        low, high = _range(created)
        runs = [r for r in runs if low <= r.created_at <= high]
    runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    total = len(runs)
    if created:
        runs = runs[:RUN_LISTING_CAP]  # GitHub's cap on filtered listings
    status, body, headers = _paged([run_json(r, api) for r in runs], query,
                                   f"{api}/actions/workflows/{workflow}/runs")
    return status, {"total_count": total, "workflow_runs": body}, headers


def _run(repo: FakeRepo, query: dict[str, str], api: str, run_id: str) -> Reply:
    run = repo.runs.get(int(run_id))
    return (200, run_json(run, api), {}) if run else (404, NOT_FOUND, {})


def _range(text: str) -> tuple[dt.datetime, dt.datetime]:
    def parse(value: str, end: bool) -> dt.datetime:
        if value in ("", "*"):
            return dt.datetime.max.replace(tzinfo=dt.UTC) if end else dt.datetime.min.replace(
                tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if text.startswith(">="):
        return parse(text[2:], False), parse("*", True)
    low, _, high = text.partition("..")
    return parse(low, False), parse(high, True)


def _page_args(query: dict[str, str], default: int = 30,
               maximum: int = 100) -> tuple[int, int]:
    per_page = min(int(query.get("per_page", default)), maximum)
    return max(per_page, 1), max(int(query.get("page", 1)), 1)


def _paged(items: list[Any], query: dict[str, str], url: str) -> Reply:
    per_page, page = _page_args(query)
    last = max(1, -(-len(items) // per_page))
    return 200, items[(page - 1) * per_page: page * per_page], _links(url, query, page, last)


def _links(url: str, query: dict[str, str], page: int, last: int) -> dict[str, str]:
    """GitHub's `Link` header: next and last (and prev and first after page 1)."""
    def at(n: int) -> str:
        return f"{url}?{urllib.parse.urlencode({**query, 'page': n})}"
    parts = []
    if page < last:
        parts += [f'<{at(page + 1)}>; rel="next"', f'<{at(last)}>; rel="last"']
    if page > 1:
        parts += [f'<{at(page - 1)}>; rel="prev"', f'<{at(1)}>; rel="first"']
    return {"Link": ", ".join(parts)} if parts else {}


ROUTES: list[tuple[str, Callable[..., Reply]]] = [
    (r"", _repository),
    (r"/commits", _commits),
    (r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", _compare),
    (r"/actions/workflows", _workflows),
    (r"/actions/workflows/([^/]+)/runs", _runs),
    (r"/actions/runs/(\d+)", _run),
]
