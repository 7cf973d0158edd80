"""The pagerduty source through the official client, over TLS, against a fake PagerDuty on
127.0.0.1 that pages, limits and fails as the real API does."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from incident_fakes import FakePagerDuty, tls_server

from pipelines.config import PagerDutySource
from pipelines.sources.incidents import pagerduty
from pipelines.sources.incidents.common import TransientError

TOKEN = "pd-secret-token-7f3a9c"  # noqa: S105 - a test value
NOW = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
KNOWN = {"payments-api"}


def incident(number: int, created: str, *, service: str = "PPAY", urgency: str = "high",
             resolved: str | None = None, status: str | None = None, title: str = "Errors",
             priority: str | None = None, description: str | None = None) -> dict:
    return {"id": f"Q{number:05d}", "incident_number": number, "title": title,
            "description": description or title, "created_at": created,
            "status": status or ("resolved" if resolved else "triggered"),
            "resolved_at": resolved, "urgency": urgency,
            "priority": {"summary": priority} if priority else None,
            "service": {"id": service, "type": "service_reference"}}


def resolve_entry(incident_id: str, at: str, service: str = "PPAY") -> dict:
    return {"id": f"R{incident_id}", "type": "resolve_log_entry", "created_at": at,
            "incident": {"id": incident_id}, "service": {"id": service}}


@pytest.fixture
def pd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(fake, source config) with the fake's CA trusted through SSL_CERT_FILE."""
    with tls_server(tmp_path) as (server, ca_file):
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        monkeypatch.setenv("PAGERDUTY_TOKEN", TOKEN)
        fake = FakePagerDuty(TOKEN, [])
        fake.install(server)
        cfg = PagerDutySource(kind="pagerduty", base_url=server.url_for("/").rstrip("/"),
                              services={"PPAY": "payments-api", "PLEG": "legacy-batch"},
                              urgencies=["high"], since=dt.date(2026, 3, 1))
        yield fake, cfg


def test_fields_resolve_log_entry_cause_and_unmapped(pd) -> None:
    """Worked by hand from the records below:
    Q00001: resolved_at given -> 03-03 15:00; severity from priority.summary (P1); the title
      names `deployment: d2`.
    Q00002: resolved, no resolved_at -> its resolve log entry 03-05 12:30; severity = urgency.
    Q00003: the description names `commit: abc1234` (lower-cased sha kept).
    Q00004: service PLEG maps to legacy-batch, not a configured service -> skipped, counted.
    Q00005: urgency low -> not asked for (urgencies[]=high).
    Q00006: service POTHER, which `services` does not list -> skipped, counted (every service's
      incidents are asked for, or it would go unseen).
    So 3 loaded, 2 quarantined (field `service`), 1 never seen."""
    fake, cfg = pd
    fake.incidents = [
        incident(1, "2026-03-03T12:00:00Z", resolved="2026-03-03T15:00:00Z", priority="P1",
                 title="Checkout errors (deployment: d2)"),
        incident(2, "2026-03-05T11:00:00Z", status="resolved"),
        incident(3, "2026-03-10T09:00:00Z", resolved="2026-03-10T11:00:00Z",
                 description="Bad cache key\ncommit: ABC1234"),
        incident(4, "2026-03-11T09:00:00Z", service="PLEG"),
        incident(5, "2026-03-12T09:00:00Z", urgency="low"),
        incident(6, "2026-03-13T09:00:00Z", service="POTHER"),
    ]
    fake.log_entries = [resolve_entry("Q00002", "2026-03-05T12:30:00Z")]
    result = pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    rows = {r["id"]: r for r in result.rows["incidents"]}
    assert sorted(rows) == ["Q00001", "Q00002", "Q00003"]
    assert rows["Q00001"]["resolved_at"] == dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)
    assert rows["Q00001"]["severity"] == "P1"
    assert rows["Q00001"]["deployment_id"] == "d2"
    assert rows["Q00002"]["resolved_at"] == dt.datetime(2026, 3, 5, 12, 30, tzinfo=dt.UTC)
    assert rows["Q00002"]["severity"] == "high"
    assert rows["Q00003"]["commit_sha"] == "abc1234"
    assert all(r["cause"] == "unknown" and r["service"] == "payments-api" for r in rows.values())
    assert [(b["record_key"], b["field"]) for b in result.bad] == [("Q00004", "service"),
                                                                  ("Q00006", "service")]
    assert result.bad[0]["reason"].startswith("unmapped service 'legacy-batch'")
    assert result.bad[1]["reason"].startswith("unmapped service 'POTHER'")
    assert result.tally.reconciles
    listing = [p for path, p in fake.requests if path == "/incidents"]
    assert "service_ids[]" not in listing[0]
    assert listing[0]["urgencies[]"] == ["high"]


def test_long_first_sync_is_cut_into_windows_of_at_most_six_months(pd) -> None:
    """since 2025-01-01 to 2026-03-15 is 438 days: windows of 180, 180 and 78 days (the fake
    refuses a range over 6 months with 400, so one request for it all would fail)."""
    fake, cfg = pd
    cfg = cfg.model_copy(update={"since": dt.date(2025, 1, 1)})
    fake.incidents = [incident(1, "2025-02-01T00:00:00Z"), incident(2, "2025-09-01T00:00:00Z"),
                      incident(3, "2026-03-01T00:00:00Z")]
    result = pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    assert sorted(r["id"] for r in result.rows["incidents"]) == ["Q00001", "Q00002", "Q00003"]
    windows = [(p["since"][0], p["until"][0]) for path, p in fake.requests if path == "/incidents"]
    assert windows == [("2025-01-01T00:00:00Z", "2025-06-30T00:00:00Z"),
                       ("2025-06-30T00:00:00Z", "2025-12-27T00:00:00Z"),
                       ("2025-12-27T00:00:00Z", "2026-03-15T00:00:00Z")]


def test_more_than_ten_thousand_incidents_are_split_not_truncated(pd) -> None:
    """10,050 incidents in one window: paging stops at offset + limit = 10,000, so the window is
    halved (03-01..03-08, 03-08..03-15) until each half pages completely; all 10,050 arrive."""
    fake, cfg = pd
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    fake.incidents = [
        incident(n, (start + dt.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 resolved=(start + dt.timedelta(minutes=n + 5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for n in range(10_050)]
    result = pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    assert len({r["id"] for r in result.rows["incidents"]}) == 10_050
    # 10,050 minutes from 03-01 reach 03-07 23:30. The window 03-01..03-15 (total 10,050) is
    # halved; its first half 03-01..03-08 holds all 10,050 and is halved again: 03-01..03-04 12:00
    # holds 5,040 (51 pages), 03-04 12:00..03-08 holds 5,010 (51 pages); 03-08..03-15 is empty
    # (1 request). Requests: 1 + 1 + 51 + 51 + 1 = 105, none past offset 9,900.
    assert len(fake.requests) == 105
    assert max(int(p["offset"][0]) for _, p in fake.requests) == 5_000


def test_rate_limit_and_cut_connection_are_waited_out(pd, caplog) -> None:
    """A 429 (Retry-After: 1) and then a connection cut before the answer: the same page is
    asked again (tenacity for the 429, the client's own retry for the cut) and the sync ends
    with every incident; the token appears in no log line."""
    fake, cfg = pd
    fake.incidents = [incident(1, "2026-03-03T12:00:00Z")]
    fake.faults = ["429", "cut"]
    with caplog.at_level(logging.DEBUG):
        result = pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    assert [r["id"] for r in result.rows["incidents"]] == ["Q00001"]
    assert len(fake.requests) == 3
    assert TOKEN not in caplog.text


def test_rerun_with_nothing_new_makes_two_requests_then_picks_up_changes(pd) -> None:
    """First sync: Q00001 open. Rerun with nothing new: one `/incidents` and one `/log_entries`
    request (2, at most 3). Then Q00001 is resolved (a log entry at 03-15 02:00) and Q00002 is
    created: the third sync lands both, Q00001 with its resolve time. Q00009, of the unlisted
    service POTHER, changed too: skipped and counted from its log entry, never read itself."""
    fake, cfg = pd
    fake.incidents = [incident(1, "2026-03-14T12:00:00Z")]
    first = pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    assert first.rows["incidents"][0]["resolved_at"] is None
    fake.requests.clear()
    later = NOW + dt.timedelta(hours=1)
    second = pagerduty.sync(cfg, "pd", KNOWN, first.cursor, later)
    assert len(fake.requests) == 2 <= 3
    assert second.rows == {}
    fake.incidents[0].update(status="resolved", resolved_at=None)
    fake.log_entries = [resolve_entry("Q00001", "2026-03-15T02:00:00Z"),
                        resolve_entry("Q00009", "2026-03-15T02:10:00Z", service="POTHER")]
    fake.incidents.append(incident(2, "2026-03-15T02:30:00Z"))
    fake.requests.clear()
    third = pagerduty.sync(cfg, "pd", KNOWN, second.cursor, NOW + dt.timedelta(hours=3))
    rows = {r["id"]: r for r in third.rows["incidents"]}
    assert sorted(rows) == ["Q00001", "Q00002"]
    assert rows["Q00001"]["resolved_at"] == dt.datetime(2026, 3, 15, 2, tzinfo=dt.UTC)
    assert [(b["record_key"], b["field"]) for b in third.bad] == [("Q00009", "service")]
    assert third.tally.reconciles
    read = [path for path, _ in fake.requests if path.startswith("/incidents/")]
    # Q00001 read again for its change (and its resolve log entry); Q00009 never.
    assert read == ["/incidents/Q00001", "/incidents/Q00001/log_entries"]


def test_a_refused_token_is_named_by_its_variable_never_shown(pd, monkeypatch) -> None:
    """401: one error naming the request; neither the token nor a part of it is printed."""
    fake, cfg = pd
    monkeypatch.setenv("PAGERDUTY_TOKEN", "wrong-token-0000abcd")
    with pytest.raises(RuntimeError) as caught:
        pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    assert "refused GET /incidents (401)" in str(caught.value)
    assert "abcd" not in str(caught.value) and TOKEN not in str(caught.value)


def test_a_server_error_is_transient_a_bad_request_is_not(pd) -> None:
    """503 is worth a later retry (the asset asks Dagster for one); 404 is not."""
    fake, cfg = pd
    fake.faults = ["503"]
    with pytest.raises(TransientError, match="answered 503"):
        pagerduty.sync(cfg, "pd", KNOWN, None, NOW)
    api = pagerduty.PagerDuty(cfg, "pd")
    with pytest.raises(RuntimeError, match="answered 404") as caught:
        api.get("/incidents/NOPE")
    assert not isinstance(caught.value, TransientError)


def test_a_plain_http_base_url_is_refused_by_the_config() -> None:
    """The client refuses non-https base URLs; the config says so first, naming the key."""
    with pytest.raises(ValueError, match="base_url"):
        PagerDutySource(kind="pagerduty", base_url="http://127.0.0.1:1", services={"P": "s"})
