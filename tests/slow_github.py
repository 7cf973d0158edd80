"""The fake GitHub with the latency of the real one, answering requests concurrently.

`FakeGithub` answers one request at a time, in microseconds; GitHub takes tens to hundreds of
milliseconds and serves many clients at once. Parallel ingestion only pays off against the latter,
so the parallel tests and benchmark use this variant: a threaded server that waits `latency`
seconds before each answer. Also: `many_repos`, a set of small repositories with distinct ids.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from fake_github import FakeGithub, FakeRepo, build_repo
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)


@dataclass
class SlowGithub(FakeGithub):
    """`FakeGithub`, threaded, each answer `latency` seconds late."""

    latency: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self._lock = threading.Lock()

    def _handle(self, request: Request) -> Response:
        time.sleep(self.latency)
        with self._lock:  # the fake's bookkeeping (log, budget) is not thread-safe
            return super()._handle(request)


def many_repos(count: int, owner: str = "acme", prs: int = 4) -> list[FakeRepo]:
    """`count` small repositories `owner/repo-000`…, each with a few PRs, deployments, an
    incident and a release, from a fixed start (so two servers built apart serve the same data)."""
    return [
        build_repo(owner, f"repo-{i:03d}", prs=prs, commits_per_pr=2, reviews_per_pr=1,
                   deployments=4, incidents=1, releases=1, start=START,
                   database_id=10_000 + 1_000 * i)
        for i in range(count)
    ]
