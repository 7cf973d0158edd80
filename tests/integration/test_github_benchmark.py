"""The issue's benchmark: 1,000 PRs (3 commits, 2 reviews each), 500 deployments and 100 incident
issues cost at most 80 requests to sync the first time and at most 10 to sync again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from github_sync import run_benchmark  # noqa: E402


@pytest.mark.slow
def test_benchmark_stays_within_the_request_targets() -> None:
    result = run_benchmark()
    assert result["fetched"]["pull_requests"] == 1000
    assert result["fetched"]["deployments"] == 500
    assert result["fetched"]["incidents"] == 100
    assert result["loaded"]["pull_requests"] == 1000
    # The client's own count agrees with what the server received.
    assert result["first_client_count"] == result["first_requests"]
    assert result["first_requests"] <= 80
    assert result["rerun_requests"] <= 10
    # Nothing new: one Overview query, one revisit of the three unfinished deployments.
    assert result["rerun_labels"] == ["POST /api/graphql Overview", "POST /api/graphql Revisit"]
