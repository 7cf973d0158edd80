"""A small repository worked out by hand, shared by the sync, incremental and metrics tests.

T = Monday 2025-02-03 09:00 UTC.

- commit `initial` on main, committed T-1d.
- PR #1 "Add ledger" by alice (+02:00), created T: 2 commits authored T-20m and T-10m; bob
  APPROVED at T+1h; carol's review still pending; merged with a merge commit at T+2h.
- PR #2 "Bump lib" by dependabot (a Bot), created T+3h: 1 commit authored T+2h50; copilot (a Bot)
  COMMENTED at T+3h30; squashed at T+4h.
- PR #3 "WIP" by alice, created T+5h: 1 commit authored T+4h50; open.
- deployment d1 (production, the merge of #1): IN_PROGRESS T+2h30, SUCCESS T+2h40, INACTIVE T+4h40.
- deployment d2 (production, the squash of #2): IN_PROGRESS T+4h30, SUCCESS T+4h40.
- deployment d3 (staging, the squash of #2): QUEUED T+4h35, unfinished.
- release v1.0: the merge of #1, published T+3h; v1.1 a draft; v1.1-rc1 a pre-release.
- issue #4: `incident`, `cause:change`, `severity:high`; opened T+5h, closed T+6h.
- issue #5: `bug` (not an incident), T+5h30.
- issue #6: `incident`, `cause:aliens` (a cause docs/config.md does not know), opened T+7h.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fake_github.model import FakeDeployment, FakePullRequest, FakeRelease, FakeRepo

T = dt.datetime(2025, 2, 3, 9, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


@dataclass
class Small:
    repo: FakeRepo
    pr1: FakePullRequest
    pr2: FakePullRequest
    pr3: FakePullRequest
    merge1: str
    squash2: str
    d1: FakeDeployment
    d2: FakeDeployment
    d3: FakeDeployment
    v10: FakeRelease
    v11: FakeRelease


def small_repo() -> Small:
    """The repository of the module doc."""
    repo = FakeRepo("acme", "app", database_id=7, created_at=T - 30 * 24 * H)
    repo.commit("Initial commit", T - 24 * H)
    pr1 = repo.pull_request("Add ledger", "alice", T, commits=2, offset_hours=2)
    repo.review(pr1, "bob", T + H, "APPROVED")
    repo.review(pr1, "carol", None, "PENDING")
    merge1 = repo.merge(pr1, T + 2 * H, "merge")
    pr2 = repo.pull_request("Bump lib", "dependabot[bot]", T + 3 * H, commits=1, bot=True,
                            labels=["dependencies"])
    repo.review(pr2, "copilot[bot]", T + 3 * H + 30 * M, "COMMENTED", bot=True)
    squash2 = repo.merge(pr2, T + 4 * H, "squash")
    pr3 = repo.pull_request("WIP", "alice", T + 5 * H, commits=1)
    d1 = repo.deploy(merge1, "production", T + 2 * H + 30 * M, [
        ("IN_PROGRESS", T + 2 * H + 30 * M), ("SUCCESS", T + 2 * H + 40 * M),
        ("INACTIVE", T + 4 * H + 40 * M)])
    d2 = repo.deploy(squash2, "production", T + 4 * H + 30 * M, [
        ("IN_PROGRESS", T + 4 * H + 30 * M), ("SUCCESS", T + 4 * H + 40 * M)])
    d3 = repo.deploy(squash2, "staging", T + 4 * H + 35 * M, [("QUEUED", T + 4 * H + 35 * M)])
    v10 = repo.release("v1.0", merge1, T + 3 * H)
    v11 = repo.release("v1.1", squash2, T + 5 * H, draft=True)
    repo.release("v1.1-rc1", squash2, T + 4 * H + 50 * M, prerelease=True)
    repo.issue("Ledger down", T + 5 * H, ["incident", "cause:change", "severity:high"],
               closed_at=T + 6 * H)
    repo.issue("Typo", T + 5 * H + 30 * M, ["bug"])
    repo.issue("Strange", T + 7 * H, ["incident", "cause:aliens"])
    return Small(repo, pr1, pr2, pr3, merge1, squash2, d1, d2, d3, v10, v11)
