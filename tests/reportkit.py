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
