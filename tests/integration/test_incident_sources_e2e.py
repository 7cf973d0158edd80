"""A small organisation whose incidents live in PagerDuty, Jira and CDEvents and whose SLOs are
measured by Prometheus, through Dagster end to end: time to restore, attribution, change failure
rate and SLO attainment worked by hand; tokens nowhere; a rerun with nothing new makes at most
3 requests to PagerDuty.

Payments (payments-api): deployments d1..d5 (files) on 03-02, 03-03, 03-05, 03-09, 03-12 at
  10:00 UTC, revisions p1..p5 (a linear history). PagerDuty incidents:
  Q00001 03-03 12:00-15:00 (3 h), title names `deployment: d2` -> d2 by deployment id;
  Q00002 03-05 11:00, resolved by its log entry at 12:30 (1.5 h) -> d3 by time (1 h before);
  Q00003 03-10 09:00-11:00 (2 h), names `commit: <p4>` -> d4 (which delivered p4) by commit;
  Q00004 of PLEG -> legacy-batch, not a service: skipped.
  March: 5 deployments, 3 failed (d2, d3, d4): change failure rate 3/5 = 0.6;
  time to restore p50 of (3, 1.5, 2) = 2.0 h.
Search (search-api): deployments s1..s3 (files) on 03-02, 03-04, 03-06 at 10:00 UTC. Jira
  (times at -08:00): INC-1 03-04 14:00 -> 03-05 02:00 = 03-04 22:00Z -> 03-05 10:00Z (12 h) -> s2
  by time (12 h before); INC-2 03-07 01:00-05:00 = 09:00Z-13:00Z (4 h), its ADF names
  `deployment: s3` -> s3 by deployment id; INC-3 "Done" without a resolution date (open),
  03-08 18:00Z -> s3 by time; INC-4 component Billing: skipped.
  March: 3 deployments, 2 failed (s2, s3): 2/3; time to restore p50 of (12, 4) = 8.0 h.
Checkout (checkout-api): CDEvents e1 03-02 10:00 deployed v1, e2 11:00 deployed v2, e3 12:00
  rolled back to v1 (rollback_of e2); I-1 detected 11:30, resolved 12:05 (35 min) -> e2 by time;
  I-2 reported 03-03 09:00, open -> e3 by time (21 h before); an incident of `other-svc`:
  skipped. March: 3 deployments, 2 failed (e2, e3): 2/3; time to restore p50 = 35/60 h.
SLOs (Prometheus, 3 hourly windows two days ago): payments 17,760 of 18,000 = 0.98667 < 0.99
  (missed); search 8,700 of 9,000 = 0.96667 >= 0.95 (met, OpenSLO); checkout 3,600 of 3,600 = 1
  >= 0.99 (met, Sloth).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from cdevents_kit import deployed, incident, write_lines
from incident_fakes import FakeJira, FakePagerDuty, adf, tls_server
from promkit import history, prometheus_server, require_prometheus
from pytest_httpserver import HTTPServer
from test_jira import issue
from test_pagerduty import incident as pd_incident
from test_pagerduty import resolve_entry

from pipelines.defs.ingest.incidents import incident_landing
from pipelines.defs.resources import DoraResource
from pipelines.reports.queries import query
from pipelines.reports.run import report_stage
from pipelines.runner import run_pipeline

PD_TOKEN, JIRA_EMAIL, JIRA_TOKEN = "pd-e2e-token-93be1f", "sre@acme.test", "jira-e2e-token-4d0c"
PST = "-0800"
SHAS = {f"p{i}": f"{i:x}" * 40 for i in range(1, 6)}
SLO_START = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) \
    - dt.timedelta(days=2)


def _files(folder: Path) -> None:
    commits, deployments, parent = [], [], []
    for i in range(1, 6):
        sha = SHAS[f"p{i}"]
        commits.append({"repo": "acme/payments", "sha": sha, "parents": parent,
                        "authored_at": f"2026-02-{20 + i}T09:00:00Z",
                        "committed_at": f"2026-02-{20 + i}T09:00:00Z"})
        parent = [sha]
    for i, day in enumerate([2, 3, 5, 9, 12], start=1):
        deployments.append({"id": f"d{i}", "service": "payments-api",
                            "environment": "production", "revision": SHAS[f"p{i}"],
                            "finished_at": f"2026-03-{day:02d}T10:00:00Z", "status": "success"})
    for i, day in enumerate([2, 4, 6], start=1):
        deployments.append({"id": f"s{i}", "service": "search-api", "environment": "production",
                            "revision": f"s{i}", "finished_at": f"2026-03-{day:02d}T10:00:00Z",
                            "status": "success"})
    folder.mkdir()
    (folder / "commits.jsonl").write_text("".join(json.dumps(c) + "\n" for c in commits))
    (folder / "deployments.jsonl").write_text("".join(json.dumps(d) + "\n" for d in deployments))


def _cdevents(folder: Path) -> None:
    write_lines(folder / "events.jsonl", [
        deployed("e1", "2026-03-02T10:00:00Z", "checkout-api", "v1"),
        deployed("e2", "2026-03-02T11:00:00Z", "checkout-api", "v2"),
        deployed("e3", "2026-03-02T12:00:00Z", "checkout-api", "v1", "service.rolledback"),
        incident("incident.detected", "c1", "2026-03-02T11:30:00Z", "I-1", "checkout-api"),
        incident("incident.resolved", "c2", "2026-03-02T12:05:00Z", "I-1", "checkout-api"),
        incident("incident.reported", "c3", "2026-03-03T09:00:00Z", "I-2", "checkout-api"),
        incident("incident.detected", "c4", "2026-03-03T09:00:00Z", "I-9", "other-svc"),
    ])


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory):
    """The organisation run once through Dagster (with reports); yields (config path, fakes)."""
    require_prometheus()
    root = tmp_path_factory.mktemp("org")
    patch = pytest.MonkeyPatch()
    rates = {("payments", "200"): [100, 97, 99], ("payments", "500"): [0, 3, 1],
             ("search", "200"): [50, 50, 45], ("search", "500"): [0, 0, 5],
             ("checkout", "200"): [20, 20, 20], ("checkout", "500"): [0, 0, 0]}
    jira_server = HTTPServer(host="127.0.0.1", port=0)
    jira_server.start()
    try:
        with tls_server(root) as (pd_server, ca_file), \
                prometheus_server(root, history(SLO_START, rates)) as prom_url:
            patch.setenv("SSL_CERT_FILE", str(ca_file))
            patch.setenv("PAGERDUTY_TOKEN", PD_TOKEN)
            patch.setenv("JIRA_EMAIL", JIRA_EMAIL)
            patch.setenv("JIRA_TOKEN", JIRA_TOKEN)
            pd = FakePagerDuty(PD_TOKEN, [
                pd_incident(1, "2026-03-03T12:00:00Z", resolved="2026-03-03T15:00:00Z",
                            title="Card declines (deployment: d2)"),
                pd_incident(2, "2026-03-05T11:00:00Z", status="resolved"),
                pd_incident(3, "2026-03-10T09:00:00Z", resolved="2026-03-10T11:00:00Z",
                            description=f"commit: {SHAS['p4']}"),
                pd_incident(4, "2026-03-11T09:00:00Z", service="PLEG"),
            ], [resolve_entry("Q00002", "2026-03-05T12:30:00Z")])
            pd.install(pd_server)
            jira = FakeJira(JIRA_EMAIL, JIRA_TOKEN, [
                issue("INC-1", f"2026-03-04T14:00:00.000{PST}",
                      resolved=f"2026-03-05T02:00:00.000{PST}"),
                issue("INC-2", f"2026-03-07T01:00:00.000{PST}",
                      resolved=f"2026-03-07T05:00:00.000{PST}",
                      description=adf(["Bad index ", "(deployment: s3)"])),
                issue("INC-3", f"2026-03-08T10:00:00.000{PST}", status="Done"),
                issue("INC-4", f"2026-03-08T11:00:00.000{PST}", components=["Billing"]),
            ], offset=PST)
            jira.install(jira_server)
            _files(root / "events")
            _cdevents(root / "cdevents")
            shutil.copytree(Path(__file__).parent.parent / "slo_examples", root / "slo")
            config = {
                "warehouse": "data/dora.duckdb", "reports_dir": "reports", "min_sample": 1,
                "services": [{"name": "payments-api", "repo": "acme/payments"},
                             {"name": "search-api", "repo": "acme/search"},
                             {"name": "checkout-api", "repo": "acme/checkout"}],
                "teams": [{"name": "Payments", "services": ["payments-api"]},
                          {"name": "Search", "services": ["search-api"]},
                          {"name": "Checkout", "services": ["checkout-api"]}],
                "slos": [{"name": "payments-api-availability", "service": "payments-api",
                          "objective": 0.99}],
                "sources": [
                    {"kind": "files", "path": "events"},
                    {"kind": "pagerduty", "name": "pagerduty", "token_env": "PAGERDUTY_TOKEN",
                     "base_url": pd_server.url_for("/").rstrip("/"),
                     "services": {"PPAY": "payments-api", "PLEG": "legacy-batch"},
                     "since": "2026-03-01"},
                    {"kind": "jira", "name": "jira",
                     "base_url": jira_server.url_for("/").rstrip("/"),
                     "email_env": "JIRA_EMAIL", "token_env": "JIRA_TOKEN",
                     "jql": "project = INC AND type = Incident", "service_field": "components",
                     "services": {"Search": "search-api"}, "severity_field": "priority"},
                    {"kind": "cdevents", "name": "cdevents", "path": "cdevents"},
                    {"kind": "prometheus", "name": "prometheus", "base_url": prom_url,
                     "window": "1h", "openslo": "slo", "slos": [
                         {"slo": "payments-api-availability",
                          "good": 'sum(increase(http_requests_total{job="payments",'
                                  'code!~"5.."}[1h]))',
                          "total": 'sum(increase(http_requests_total{job="payments"}[1h]))'}]},
                ],
            }
            path = root / "dora.yaml"
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            summary = run_pipeline(path, progress=lambda _m: None,
                                   extra_stages=[("reports", report_stage)])
            yield path, summary, pd
    finally:
        patch.undo()
        jira_server.clear()
        jira_server.stop()


def _team_month(conn: duckdb.DuckDBPyConnection, team: str) -> dict:
    row = conn.execute(
        "SELECT deployments, failed_deployments, change_failure_rate, "
        "time_to_restore_p50_hours FROM team_metrics WHERE team = ? AND grain = 'month' "
        "AND period_start = DATE '2026-03-01'", [team]).fetchone()
    return dict(zip(["deployments", "failed", "cfr", "ttr"], row, strict=True))


def test_metrics_per_source_as_worked_by_hand(org) -> None:
    path, summary, _ = org
    with duckdb.connect(str(summary.config.warehouse_path), read_only=True) as conn:
        assert _team_month(conn, "Payments") == {"deployments": 5, "failed": 3,
                                                 "cfr": pytest.approx(0.6),
                                                 "ttr": pytest.approx(2.0)}
        assert _team_month(conn, "Search") == {"deployments": 3, "failed": 2,
                                               "cfr": pytest.approx(2 / 3),
                                               "ttr": pytest.approx(8.0)}
        assert _team_month(conn, "Checkout") == {"deployments": 3, "failed": 2,
                                                 "cfr": pytest.approx(2 / 3),
                                                 "ttr": pytest.approx(35 / 60)}
        rules = dict(((i, (d, r, s)) for i, d, r, s in conn.execute(
            "SELECT incident_id, deployment_id, rule, source FROM incident_attributions")
            .fetchall()))
        assert rules == {
            "Q00001": ("d2", "deployment_id", "pagerduty"), "Q00002": ("d3", "time", "pagerduty"),
            "Q00003": ("d4", "commit_sha", "pagerduty"),
            "INC-1": ("s2", "time", "jira"), "INC-2": ("s3", "deployment_id", "jira"),
            "INC-3": ("s3", "time", "jira"),
            "I-1": ("e2", "time", "cdevents"), "I-2": ("e3", "time", "cdevents"),
        }
        slos = dict(conn.execute(
            "SELECT slo, sum(good) / sum(total) FROM slo_periods WHERE grain = 'month' "
            "GROUP BY slo").fetchall())
        assert slos == {"payments-api-availability": pytest.approx(17_760 / 18_000),
                        "search-api-availability": pytest.approx(8_700 / 9_000),
                        "checkout-api-requests-availability": pytest.approx(1.0)}
        met = dict(conn.execute("SELECT slo, bool_and(met) FROM slo_periods GROUP BY slo")
                   .fetchall())
        assert met == {"payments-api-availability": False, "search-api-availability": True,
                       "checkout-api-requests-availability": True}
        coverage = dict(query(conn, "report_coverage").select("team", "incident_sources").rows())
    payments = {s["source"]: s for s in coverage["Payments"]}
    assert payments["pagerduty"] == {
        "source": "pagerduty", "incidents": 3, "by_deployment_id": 1, "by_commit": 1,
        "by_time_window": 1, "not_attributed": 0, "skipped_unmapped": 1}
    search = {s["source"]: s for s in coverage["Search"]}["jira"]
    assert (search["by_deployment_id"], search["by_time_window"], search["skipped_unmapped"]) \
        == (1, 2, 1)
    checkout = {s["source"]: s for s in coverage["Checkout"]}["cdevents"]
    assert (checkout["incidents"], checkout["by_time_window"], checkout["skipped_unmapped"]) \
        == (2, 2, 1)


def test_the_coverage_section_shows_attribution_per_source(org) -> None:
    _, summary, _ = org
    pages = list(summary.config.reports_path.rglob("*.html"))
    page = next(p for p in pages if "Payments" in p.read_text() and "incident-sources"
                in p.read_text())
    text = page.read_text()
    assert "<td>pagerduty</td><td>3</td><td>1</td>" in text


def test_tokens_appear_nowhere(org, capsys) -> None:
    """Neither token (nor the e-mail) is in any file the run wrote: landing, cursors,
    warehouse, reports."""
    path, summary, _ = org
    secrets = [PD_TOKEN.encode(), JIRA_TOKEN.encode(), JIRA_EMAIL.encode()]
    files = [f for f in path.parent.rglob("*") if f.is_file()]
    for file in files:
        data = file.read_bytes()
        assert not any(s in data for s in secrets), file
    # Parquet and DuckDB compress their strings: read them back as text too.
    for file in (f for f in files if f.suffix == ".parquet"):
        text = repr(pl.read_parquet(file).rows()).encode()
        assert not any(s in text for s in secrets), file
    with duckdb.connect(str(summary.config.warehouse_path), read_only=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()")
            .fetchall()]
        assert "incidents" in tables
        for table in tables:
            text = repr(conn.table(table).fetchall()).encode()
            assert not any(s in text for s in secrets), table
    captured = capsys.readouterr()
    assert not any(s.decode() in captured.out + captured.err for s in secrets)


def test_a_rerun_with_nothing_new_asks_pagerduty_at_most_three_times(org, caplog) -> None:
    """Through Dagster again: the cursor landed by the first run makes the rerun ask
    `/incidents` and `/log_entries` once each; no event or log line of the run holds a token."""
    path, summary, pd = org
    pd.requests.clear()
    with caplog.at_level(logging.DEBUG):
        result = dg.materialize([incident_landing],
                                resources={"dora": DoraResource(config_path=str(path))})
    assert result.success
    assert 0 < len(pd.requests) <= 3
    assert [p for p, _ in pd.requests] == ["/incidents", "/log_entries"]
    logged = caplog.text + "\n".join(repr(e) for e in result.all_events)
    assert "incident_landing" in logged
    assert not any(s in logged for s in (PD_TOKEN, JIRA_TOKEN, JIRA_EMAIL))
