"""The `jira` source: Jira Cloud issues as incidents, REST API v3 (docs/incidents.md).

`GET /rest/api/3/search/jql` pages with `nextPageToken` until `isLast` (pages may be shorter
than `maxResults`; the old `/search` answers 410). Basic auth with an e-mail and an API token,
both read from environment variables. Later syncs add `updated >= "<last sync>"` to the JQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import requests

from pipelines.config import JiraSource
from pipelines.sources.incidents.common import (
    SourceResult,
    TransientError,
    named_cause,
    retrying_session,
    secret,
)

PAGE = 100
SEARCH = "/rest/api/3/search/jql"
# JQL compares `updated` in the user's time zone at minute precision: reaching back a day more
# than the last sync covers any zone; issues seen twice are upserts of the same key.
OVERLAP = dt.timedelta(days=1)


def _session(cfg: JiraSource, name: str) -> requests.Session:
    session = retrying_session()
    session.auth = (secret(cfg.email_env, f"source `{name}`"),
                    secret(cfg.token_env, f"source `{name}`"))
    session.headers["Accept"] = "application/json"
    return session


def issues(cfg: JiraSource, name: str, jql: str) -> Iterator[dict[str, Any]]:
    """Every issue `jql` selects, page by page."""
    session = _session(cfg, name)
    fields = ["summary", "description", "created", "updated", "resolutiondate", "status",
              cfg.service_field] + ([cfg.severity_field] if cfg.severity_field else [])
    token: str | None = None
    while True:
        params: dict[str, Any] = {"jql": jql, "maxResults": PAGE, "fields": ",".join(fields)}
        if token:
            params["nextPageToken"] = token
        try:
            response = session.get(cfg.base_url.rstrip("/") + SEARCH, params=params, timeout=60)
        except requests.RequestException as exc:
            raise TransientError(f"source `{name}`: Jira search failed: {type(exc).__name__}"
                                 ) from None
        if response.status_code in (401, 403):
            raise RuntimeError(f"source `{name}`: Jira refused the credentials from "
                               f"{cfg.email_env}/{cfg.token_env} ({response.status_code})")
        if not response.ok:
            error = TransientError if response.status_code in (429, 500, 502, 503, 504) \
                else RuntimeError
            raise error(f"source `{name}`: Jira search answered {response.status_code}: "
                        f"{response.text[:300]}")
        page = response.json()
        yield from page.get("issues", [])
        token = page.get("nextPageToken")
        if page.get("isLast", True) or not token:
            return


def sync(cfg: JiraSource, name: str, known_services: set[str],
         cursor: dict[str, Any] | None, now: dt.datetime | None = None) -> SourceResult:
    """Fetch the incidents `jql` selects, updated since the last sync when there was one."""
    now = now or dt.datetime.now(dt.UTC)
    jql = cfg.jql
    if cursor:
        since = dt.datetime.fromisoformat(cursor["until"]) - OVERLAP
        jql = f'({cfg.jql}) AND updated >= "{since:%Y/%m/%d %H:%M}"'
    result = SourceResult(name)
    for issue in issues(cfg, name, jql + " ORDER BY updated ASC"):
        _add(cfg, result, issue, known_services)
    result.cursor = {"until": now.isoformat()}
    return result


def _add(cfg: JiraSource, result: SourceResult, issue: dict[str, Any],
         known_services: set[str]) -> None:
    where = f"GET {SEARCH} ({cfg.base_url})"
    fields = issue.get("fields") or {}
    values = _names(fields.get(cfg.service_field))
    services = [cfg.services.get(v, v) for v in values]
    service = next((s for s in services if s in known_services), None)
    if service is None:
        result.skip("incidents", {"id": issue.get("key"), "service": values},
                    where, ", ".join(values) or "(none)")
        return
    severity = _names(fields.get(cfg.severity_field)) if cfg.severity_field else []
    raw = {
        "id": issue.get("key"), "service": service, "title": fields.get("summary"),
        "opened_at": _time(fields.get("created")),
        # "Done" without a resolution date is not resolved.
        "resolved_at": _time(fields.get("resolutiondate")),
        "severity": severity[0] if severity else None, "cause": "unknown",
        **named_cause(adf_text(fields.get("description"))),
    }
    result.add("incidents", raw, where)


def _names(value: Any) -> list[str]:
    """The names in a field: components / a select (`name` or `value`), or plain text."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("value")
        if isinstance(item, str) and item:
            out.append(item)
    return out


def _time(value: Any) -> Any:
    """Jira's `2026-03-01T09:12:44.000-0800` as ISO 8601 with `-08:00`."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        return f"{value[:-2]}:{value[-2:]}"
    return value


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format description (text split across nodes is
    joined; blocks end with a line break)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    inner = adf_text(node.get("content", []))
    return inner + "\n" if node.get("type") in {"paragraph", "heading", "listItem"} else inner
