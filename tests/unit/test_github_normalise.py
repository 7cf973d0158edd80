"""Pure parts of the GitHub source: status mapping, bots, rate-limit waits, bad payloads."""

from __future__ import annotations

import datetime as dt

from pipelines.sources.github.normalise import (
    RepoInfo,
    actor,
    deployment_outcome,
    normalise_page,
    run_outcome,
)
from pipelines.sources.github.retry import rate_limit_wait

INFO = RepoInfo(repo="acme/app", source="gh", service="app")


def _deployment(*statuses: tuple[str, str], state: str = "ACTIVE") -> dict:
    return {"createdAt": "2025-01-01T10:00:00Z", "updatedAt": "2025-01-01T12:00:00Z",
            "state": state,
            "statuses": {"nodes": [{"state": s, "createdAt": t} for s, t in statuses]}}


def test_final_status_is_the_last_result_whatever_the_listing_order() -> None:
    newest_first = _deployment(("INACTIVE", "2025-01-01T11:00:00Z"),
                               ("SUCCESS", "2025-01-01T10:10:00Z"),
                               ("IN_PROGRESS", "2025-01-01T10:00:00Z"))
    assert deployment_outcome(newest_first) == ("success", "2025-01-01T10:10:00Z")
    redeployed = _deployment(("FAILURE", "2025-01-01T10:05:00Z"), ("ERROR", "2025-01-01T10:20:00Z"))
    assert deployment_outcome(redeployed) == ("error", "2025-01-01T10:20:00Z")


def test_unfinished_replaced_and_abandoned_deployments() -> None:
    assert deployment_outcome(_deployment(("QUEUED", "2025-01-01T10:01:00Z"))) == (
        "in_progress", "2025-01-01T10:01:00Z")
    assert deployment_outcome(_deployment()) == ("in_progress", "2025-01-01T10:00:00Z")
    replaced = _deployment(("PENDING", "2025-01-01T10:01:00Z"),
                           ("INACTIVE", "2025-01-01T10:30:00Z"))
    assert deployment_outcome(replaced) == ("cancelled", "2025-01-01T10:30:00Z")
    assert deployment_outcome(_deployment(state="ABANDONED")) == (
        "cancelled", "2025-01-01T12:00:00Z")


def test_workflow_run_outcomes() -> None:
    assert run_outcome({"status": "in_progress", "conclusion": None}) == "in_progress"
    assert run_outcome({"status": "completed", "conclusion": "timed_out"}) == "failure"
    assert run_outcome({"status": "completed", "conclusion": "cancelled"}) == "cancelled"
    assert run_outcome({"status": "completed", "conclusion": "skipped"}) is None


def test_bots_get_the_suffix_once() -> None:
    assert actor({"__typename": "Bot", "login": "dependabot"}) == ("dependabot[bot]", True)
    assert actor({"__typename": "User", "login": "renovate[bot]"}) == ("renovate[bot]", True)
    assert actor({"__typename": "User", "login": "alice"}) == ("alice", False)
    assert actor(None) == (None, False)  # a deleted account


def test_rate_limit_wait_prefers_retry_after_then_the_reset() -> None:
    now = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
    reset = str(int(now.timestamp()) + 120)
    assert rate_limit_wait({"Retry-After": "30", "X-RateLimit-Reset": reset}, now, 60) == 30
    assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, now,
                           60) == 121
    assert rate_limit_wait({"x-ratelimit-remaining": "12"}, now, 60) == 60  # secondary


def test_a_malformed_item_is_quarantined_and_the_rest_of_the_page_loads() -> None:
    good = {"__typename": "Issue", "number": 1, "title": "Down", "state": "OPEN",
            "createdAt": "2025-01-01T10:00:00Z", "closedAt": None,
            "labels": {"nodes": [{"name": "incident"}]}}
    no_labels = {**good, "number": 2, "labels": None}
    no_time = {**good, "number": 3, "createdAt": None}
    result = normalise_page("issue", [good, no_labels, no_time], "graphql Incidents", INFO)
    assert [r["id"] for r in result.rows["incidents"]] == ["gh-acme/app-issue-1"]
    reasons = {q["line"]: (q["field"], q["reason"]) for q in result.quarantine}
    assert reasons[1][0] is None and reasons[1][1].startswith("unexpected payload shape")
    assert reasons[2] == ("opened_at", "required field `opened_at` is missing")
    assert result.tally.reconciles and result.tally.read["incidents"] == 3


def test_pull_request_changed_files_are_kept() -> None:
    pr = {"__typename": "PullRequest", "number": 4, "title": "t", "createdAt":
          "2025-01-01T10:00:00Z", "mergedAt": None, "closedAt": None, "baseRefName": "main",
          "author": {"__typename": "User", "login": "alice"}, "mergeCommit": None,
          "labels": {"nodes": []}, "commits": {"nodes": []}, "reviews": {"nodes": []},
          "files": {"totalCount": 2, "nodes": [{"path": "services/a/x.py"},
                                               {"path": "libs/y.py"}]}}
    out = normalise_page("pull_request", [pr], "graphql", INFO)
    assert out.rows["pull_requests"][0]["files"] == ["services/a/x.py", "libs/y.py"]
