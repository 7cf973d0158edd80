"""A small organisation for the report tests: the known answers plus a hostile team.

Team `payments` is tests/known_answers.py unchanged (its numbers are worked out there). Team
`<script>alert(1)</script>` owns a service named `<img src=x onerror=alert(2)>` with three
deployments and one incident whose id and title are markup too: every one of those strings must
reach the pages as text. Team `quiet` owns a service with no records at all. The warehouse is
built once per test session (`small_org`).
"""

from __future__ import annotations

from pathlib import Path

import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events

from pipelines.config import DoraConfig

XSS_TEAM = "<script>alert(1)</script>"
XSS_SERVICE = "<img src=x onerror=alert(2)>"
XSS_INCIDENT_ID = "<b>I9</b>"
XSS_TITLE = "</script><script>alert(3)</script>"
QUIET = "quiet"
TEAMS = sorted(["payments", XSS_TEAM, QUIET], key=lambda t: (t.casefold(), t))

WEB_DEPLOYMENTS = [
    {"id": f"W{i}", "service": XSS_SERVICE, "environment": "production", "revision": f"w{i}",
     "finished_at": f"2026-01-{5 + i:02d}T12:00:00Z", "status": "success"}
    for i in range(1, 4)
]
WEB_INCIDENTS = [
    {"id": XSS_INCIDENT_ID, "service": XSS_SERVICE, "title": XSS_TITLE,
     "opened_at": "2026-01-07T13:00:00Z", "resolved_at": "2026-01-07T15:00:00Z",
     "cause": "change"},
]

_BUILT: dict[str, DoraConfig] = {}


def small_org(tmp_path_factory: pytest.TempPathFactory) -> DoraConfig:
    """The known-answer organisation with the hostile team, built (not reported) once."""
    if "config" not in _BUILT:
        root: Path = tmp_path_factory.mktemp("report-org")
        write_events(root / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                     deployments=ka.DEPLOYMENTS + WEB_DEPLOYMENTS,
                     incidents=ka.INCIDENTS + WEB_INCIDENTS, sli=ka.SLI)
        config_path = write_config(
            root, slos=ka.SLOS,
            teams=[{"name": "payments", "services": ["api"]},
                   {"name": XSS_TEAM, "services": [XSS_SERVICE]},
                   {"name": QUIET, "services": ["idle"]}],
            services=[{"name": "api", "repo": "acme/api"},
                      {"name": XSS_SERVICE, "repo": "acme/web"},
                      {"name": "idle", "repo": "acme/idle"}])
        _BUILT["config"] = load_and_build(config_path)
    return _BUILT["config"]


# ---- the records behind the points (the metric_records view) ------------------------------------
# From tests/known_answers.py, payments' week of 2026-01-05: lead times 27 (PR #1), 6 (PR #2),
# 2 (b1), 2 (c6), 1 (c8) h; 8 deployments D1-D8, of which D3, D4, D6, D7, D8 failed. The hostile
# team's W2 (2026-01-07 12:00) failed: incident <b>I9</b> opened an hour later (time window).
LEAD_TIMES_WEEK_1 = [27.0, 6.0, 2.0, 2.0, 1.0]  # slowest first, as the page lists them
FAILED_WEEK_1 = ["D3", "D4", "D6", "D7", "D8"]


# ---- names of any length -------------------------------------------------------------------------
LONG_TEAM = "team-" + "t" * 195  # the longest team name a config takes (200)
LONG_SERVICE = "service-" + "s" * 10_000
LONG_SLO = "slo-" + "o" * 10_000


def long_names_org(root: Path) -> DoraConfig:
    """A team with the longest name a config takes and a service, an SLO and an incident title
    10 kB long, with deployments and SLI data, built (not reported)."""
    deployments = [{"id": f"L{i}", "service": LONG_SERVICE, "environment": "production",
                    "revision": f"l{i}", "finished_at": f"2026-01-{5 + i:02d}T12:00:00Z",
                    "status": "success"} for i in range(1, 8)]
    incidents = [{"id": "LI1", "service": LONG_SERVICE, "title": "x" * 10_000,
                  "opened_at": "2026-01-07T13:00:00Z", "resolved_at": "2026-01-07T15:00:00Z",
                  "cause": "change"}]
    sli = [{"slo": LONG_SLO, "window_start": f"2026-01-{5 + i:02d}T00:00:00Z",
            "window_end": f"2026-01-{6 + i:02d}T00:00:00Z", "good": 990, "total": 1000}
           for i in range(0, 7)]
    write_events(root / "events", deployments=deployments, incidents=incidents, sli=sli)
    return load_and_build(write_config(
        root, teams=[{"name": LONG_TEAM, "services": [LONG_SERVICE]}],
        services=[{"name": LONG_SERVICE, "repo": "acme/long"}],
        slos=[{"name": LONG_SLO, "service": LONG_SERVICE, "objective": 0.99}]))
