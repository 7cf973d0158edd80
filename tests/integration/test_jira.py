"""The jira source over real HTTP against a fake Jira Cloud on 127.0.0.1 (`/search/jql`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from incident_fakes import FakeJira, adf
from pytest_httpserver import HTTPServer

from pipelines.config import JiraSource
from pipelines.sources.incidents import jira

EMAIL, TOKEN = "ops@example.com", "jira-secret-token-51c0"
NOW = dt.datetime(2026, 3, 20, tzinfo=dt.UTC)
KNOWN = {"search-api", "payments-api"}
PST = "-0800"


def issue(key: str, created: str, *, updated: str | None = None, resolved: str | None = None,
          components: list[str] | None = None, priority: str | None = "High",
          description: dict | None = None, status: str = "Open") -> dict:
    return {"key": key, "fields": {
        "summary": f"{key} summary", "created": created, "updated": updated or created,
        "resolutiondate": resolved, "status": {"name": status},
        "components": [{"name": c} for c in (components or ["Search"])],
        "priority": {"name": priority} if priority else None, "description": description}}


@pytest.fixture
def fake(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    fake = FakeJira(EMAIL, TOKEN, [], offset=PST, page_size=2)
    fake.install(httpserver)
    return fake


def config(httpserver: HTTPServer, **extra) -> JiraSource:
    return JiraSource(kind="jira", base_url=httpserver.url_for("/").rstrip("/"),
                      jql="project = INC AND type = Incident", service_field="components",
                      services={"Search": "search-api"}, severity_field="priority", **extra)


def test_fields_offsets_adf_and_done_without_resolution(fake, httpserver) -> None:
    """Worked by hand:
    INC-1 created 2026-03-01 09:12:44 -08:00 = 17:12:44 UTC, resolved 11:42:44 -08:00 = 19:42:44
      UTC (2.5 h); its ADF description splits `deployment: ` and `s-7` across text nodes.
    INC-2 "Done" but no resolutiondate: not resolved. Component `payments-api` is not in
      `services:` but is a service of that name: mapped to itself.
    INC-3 component `Billing`: neither mapped nor a service: skipped, counted.
    INC-4 ADF names `commit: 9FCE0A1`.
    Pages of 2 (maxResults 100 asked): 2 requests for 4 issues."""
    fake.issues = [
        issue("INC-1", f"2026-03-01T09:12:44.000{PST}", resolved=f"2026-03-01T11:42:44.000{PST}",
              description=adf(["Root cause in ", "deployment: ", "s-7", " (canary)"])),
        issue("INC-2", f"2026-03-02T10:00:00.000{PST}", status="Done",
              components=["payments-api"]),
        issue("INC-3", f"2026-03-03T10:00:00.000{PST}", components=["Billing"]),
        issue("INC-4", f"2026-03-04T10:00:00.000{PST}", priority=None,
              description=adf(["see"], ["commit: 9FCE0A1"])),
    ]
    result = jira.sync(config(httpserver), "jira", KNOWN, None, NOW)
    rows = {r["id"]: r for r in result.rows["incidents"]}
    assert sorted(rows) == ["INC-1", "INC-2", "INC-4"]
    assert rows["INC-1"]["opened_at"] == dt.datetime(2026, 3, 1, 17, 12, 44, tzinfo=dt.UTC)
    assert rows["INC-1"]["resolved_at"] == dt.datetime(2026, 3, 1, 19, 42, 44, tzinfo=dt.UTC)
    assert rows["INC-1"]["deployment_id"] == "s-7"
    assert rows["INC-1"]["severity"] == "High" and rows["INC-1"]["service"] == "search-api"
    assert rows["INC-2"]["resolved_at"] is None and rows["INC-2"]["service"] == "payments-api"
    assert rows["INC-4"]["commit_sha"] == "9fce0a1" and rows["INC-4"]["severity"] is None
    assert [(b["record_key"], b["field"]) for b in result.bad] == [("INC-3", "service")]
    assert len(fake.requests) == 2 and fake.requests[1]["nextPageToken"] == "2"
    assert result.tally.reconciles


def test_incremental_rerun_asks_for_updated_since_the_last_sync(fake, httpserver) -> None:
    """The rerun's JQL adds `updated >= "2026/03/19 00:00"` (last sync 03-20 00:00 UTC less a
    day); only INC-2 (updated 03-19 10:00 -08:00) is newer, INC-1 (03-01) is not fetched."""
    fake.issues = [issue("INC-1", f"2026-03-01T09:00:00.000{PST}"),
                   issue("INC-2", f"2026-03-02T09:00:00.000{PST}",
                         updated=f"2026-03-19T10:00:00.000{PST}",
                         resolved=f"2026-03-19T10:00:00.000{PST}")]
    cfg = config(httpserver)
    first = jira.sync(cfg, "jira", KNOWN, None, NOW)
    assert len(first.rows["incidents"]) == 2
    second = jira.sync(cfg, "jira", KNOWN, first.cursor, NOW + dt.timedelta(hours=1))
    assert 'updated >= "2026/03/19 00:00"' in fake.requests[-1]["jql"]
    assert [r["id"] for r in second.rows["incidents"]] == ["INC-2"]


def test_rate_limit_and_cut_connection_are_retried(fake, httpserver) -> None:
    """429 with Retry-After 1, then a cut connection: both retried; 3 requests in all."""
    fake.issues = [issue("INC-1", f"2026-03-01T09:00:00.000{PST}")]
    fake.faults = ["429", "cut"]
    result = jira.sync(config(httpserver), "jira", KNOWN, None, NOW)
    assert [r["id"] for r in result.rows["incidents"]] == ["INC-1"]
    assert len(fake.requests) == 3


def test_wrong_credentials_name_the_variables_not_the_values(fake, httpserver,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("JIRA_TOKEN", "not-the-token")
    with pytest.raises(RuntimeError) as caught:
        jira.sync(config(httpserver), "jira", KNOWN, None, NOW)
    assert "JIRA_EMAIL/JIRA_TOKEN (401)" in str(caught.value)
    assert "not-the-token" not in str(caught.value) and EMAIL not in str(caught.value)


def test_the_old_search_endpoint_is_gone(fake, httpserver) -> None:
    """The fake answers the removed `/rest/api/3/search` with 410, as Jira Cloud does; the
    source never asks it (every request above went to `/search/jql`)."""
    import requests

    assert requests.get(httpserver.url_for("/rest/api/3/search"), timeout=10).status_code == 410


def test_missing_token_variable_is_one_clear_error(httpserver, monkeypatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    monkeypatch.setenv("JIRA_EMAIL", EMAIL)
    with pytest.raises(RuntimeError, match="environment variable JIRA_TOKEN is not set"):
        jira.sync(config(httpserver), "jira", KNOWN, None, NOW)
