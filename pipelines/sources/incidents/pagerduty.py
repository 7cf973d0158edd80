"""The `pagerduty` source: incidents from PagerDuty's REST API v2 (docs/incidents.md).

Through the official `pagerduty` client. `GET /incidents` selects on creation time, refuses
ranges longer than 6 months and stops classic paging at 10,000 results, so the range is cut
into windows of at most `MAX_SPAN`, and a window holding more than `ITERATION_LIMIT` incidents
is halved until each half pages completely. Later syncs are incremental by update time: new
incidents since the last sync, plus those whose log (`GET /log_entries`) changed since then
(a resolve, a re-trigger). With nothing new a sync makes two requests.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pagerduty
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from pipelines.config import PagerDutySource
from pipelines.sources.incidents.common import (
    SourceResult,
    TransientError,
    named_cause,
    secret,
)

MAX_SPAN = dt.timedelta(days=180)  # PagerDuty refuses since/until ranges over 6 months
ITERATION_LIMIT = pagerduty.ITERATION_LIMIT  # offset + limit may not pass 10,000
PAGE = 100  # the largest `limit` PagerDuty allows
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is waited this long, then asked again
LOG = logging.getLogger(__name__)
RATE_LIMIT_ATTEMPTS = 6  # requests of one page before a 429 is an error
FIRST_SYNC = dt.timedelta(days=365)  # without `since`, the first sync reaches back a year
# A rerun starts a little before the last sync ended: an incident PagerDuty had not yet listed
# then is still found; one seen twice replaces itself (same id).
OVERLAP = dt.timedelta(minutes=5)


class RateLimited(Exception):
    """PagerDuty answered 429; `wait` is its Retry-After in seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:g} s")
        self.wait = wait


class _Client(pagerduty.RestApiV2Client):
    """The official client, with 429 handed to tenacity (which honours Retry-After) instead of
    the client's own unbounded back-off that ignores the header."""

    def postprocess(self, response: Any) -> None:
        super().postprocess(response)
        if response.status_code == 429:
            raw = response.headers.get("Retry-After", "1")
            try:
                wait = max(0.0, float(raw))
            except ValueError:
                wait = 1.0
            raise RateLimited(min(wait, MAX_RETRY_AFTER))


def _retry_after(state: Any) -> float:
    return state.outcome.exception().wait


class PagerDuty:
    """One source's connection: every request counted, 429 waited out (bounded)."""

    def __init__(self, cfg: PagerDutySource, name: str) -> None:
        self.name = name
        self.client = _Client(secret(cfg.token_env, f"source `{name}`"),
                              base_url=cfg.base_url.rstrip("/"))
        self.requests = 0

    @retry(retry=retry_if_exception_type(RateLimited), wait=_retry_after,
           stop=stop_after_attempt(RATE_LIMIT_ATTEMPTS), reraise=True)
    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.requests += 1
        try:
            response = self.client.get(path, params=params or {})
        except pagerduty.HttpError as exc:  # 401: its message shows part of the key: drop it
            status = getattr(exc.response, "status_code", "?")
            raise RuntimeError(f"source `{self.name}`: PagerDuty refused GET {path} ({status}): "
                               "check the token's environment variable") from None
        except pagerduty.Error as exc:  # the client's network retries are used up
            raise TransientError(f"source `{self.name}`: GET {path}: {exc}") from None
        if not response.is_success:
            error = TransientError if response.status_code >= 500 else RuntimeError
            raise error(f"source `{self.name}`: GET {path} answered "
                        f"{response.status_code}: {response.text[:300]}")
        return response.json()

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET (429 waited out); the answer's JSON, or an error naming the path and status
        (never the token)."""
        try:
            return self._get(path, params)
        except RateLimited:
            raise TransientError(f"source `{self.name}`: GET {path} still rate limited after "
                                 f"{RATE_LIMIT_ATTEMPTS} attempts") from None

    def listing(self, path: str, key: str, params: dict[str, Any], since: dt.datetime,
                until: dt.datetime) -> Iterator[dict[str, Any]]:
        """Every record of `path` in [since, until): windows of at most MAX_SPAN, halved while a
        window holds more than ITERATION_LIMIT records."""
        start = since
        while start < until:
            end = min(start + MAX_SPAN, until)
            yield from self._window(path, key, params, start, end)
            start = end

    def _window(self, path: str, key: str, params: dict[str, Any], since: dt.datetime,
                until: dt.datetime) -> Iterator[dict[str, Any]]:
        query = {**params, "since": _iso(since), "until": _iso(until), "limit": PAGE,
                 "offset": 0, "total": "true"}
        page = self.get(path, query)
        total = page.get("total") or 0
        if total > ITERATION_LIMIT:
            if until - since > dt.timedelta(seconds=2):
                middle = since + (until - since) / 2
                yield from self._window(path, key, params, since, middle)
                yield from self._window(path, key, params, middle, until)
                return
            # More than 10,000 records within two seconds: PagerDuty cannot page past them.
            LOG.warning("source `%s`: %s holds %d records between %s and %s; only the first "
                        "%d can be read", self.name, path, total, _iso(since), _iso(until),
                        ITERATION_LIMIT)
        while True:
            yield from page.get(key, [])
            offset = query["offset"] + PAGE
            if not page.get("more") or offset + PAGE > ITERATION_LIMIT:
                return
            query = {**query, "offset": offset, "total": "false"}
            page = self.get(path, query)

    def resolve_time(self, incident_id: str) -> str | None:
        """The time of the incident's resolve log entry (when `resolved_at` is absent)."""
        entries = self.get(f"/incidents/{quote(incident_id, safe='')}/log_entries",
                           {"is_overview": "true", "limit": PAGE}).get("log_entries", [])
        resolved = [e["created_at"] for e in entries if e.get("type") == "resolve_log_entry"]
        return max(resolved) if resolved else None


def sync(cfg: PagerDutySource, name: str, known_services: set[str],
         cursor: dict[str, Any] | None, now: dt.datetime | None = None) -> SourceResult:
    """Fetch the incidents created or changed since `cursor` (all since `since` without one)."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    api = PagerDuty(cfg, name)
    result = SourceResult(name)
    # Every service's incidents: those of services `services` does not map are skipped and
    # counted (docs/incidents.md), which a `service_ids[]` filter would hide.
    params: dict[str, Any] = {"time_zone": "UTC"}
    if cfg.urgencies:
        params["urgencies[]"] = cfg.urgencies
    if cursor:
        start = dt.datetime.fromisoformat(cursor["until"]) - OVERLAP
    elif cfg.since:
        start = dt.datetime.combine(cfg.since, dt.time(), dt.UTC)
    else:
        start = now - FIRST_SYNC
    seen: set[str] = set()
    for incident in api.listing("/incidents", "incidents", params, start, now):
        seen.add(incident["id"])
        _add(api, cfg, result, incident, known_services)
    if cursor:
        # Incidents created before the last sync that changed since (resolved, re-opened).
        changed: list[str] = []
        for entry in api.listing("/log_entries", "log_entries", {"is_overview": "true"},
                                 start, now):
            incident_id = (entry.get("incident") or {}).get("id")
            service_id = (entry.get("service") or {}).get("id")
            if not incident_id or incident_id in seen:
                continue
            seen.add(incident_id)
            if service_id in cfg.services:
                changed.append(incident_id)
            else:  # counted from the log entry: reading the incident would tell no more
                result.skip("incidents", {"id": incident_id, "service": service_id},
                            f"GET /log_entries ({cfg.base_url})", str(service_id))
        for incident_id in changed:
            incident = api.get(f"/incidents/{quote(incident_id, safe='')}").get("incident", {})
            if not cfg.urgencies or incident.get("urgency") in cfg.urgencies:
                _add(api, cfg, result, incident, known_services)
    result.cursor = {"until": _iso(now)}
    result.requests = api.requests
    return result


def _add(api: PagerDuty, cfg: PagerDutySource, result: SourceResult, incident: dict[str, Any],
         known_services: set[str]) -> None:
    where = f"GET /incidents ({cfg.base_url})"
    service_id = (incident.get("service") or {}).get("id")
    service = cfg.services.get(service_id or "")
    if service is None or service not in known_services:
        result.skip("incidents", {"id": incident.get("id"), "service": service or service_id},
                    where, str(service or service_id))
        return
    resolved_at = incident.get("resolved_at")
    if not resolved_at and incident.get("status") == "resolved" and incident.get("id"):
        resolved_at = api.resolve_time(incident["id"])
    body = incident.get("body") or {}
    text = "\n".join(str(t) for t in (incident.get("title"), incident.get("description"),
                                      body.get("details")) if t)
    raw = {
        "id": incident.get("id"), "service": service, "title": incident.get("title"),
        "opened_at": incident.get("created_at"), "resolved_at": resolved_at,
        "severity": (incident.get("priority") or {}).get("summary") or incident.get("urgency"),
        "cause": "unknown", **named_cause(text),
    }
    result.add("incidents", raw, where)


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
