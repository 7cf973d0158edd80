"""`build_repo`: a deterministic fake repository of a given size, shaped like a busy real one.

Pull request i (every two hours): `commits_per_pr` commits authored in the hour before it opens
(every fourth author at UTC+02:00), `reviews_per_pr` reviews after it opens (the first by a bot on
every 25th PR), merged three hours after opening, alternately with a merge commit and squashed;
every 10th PR is closed unmerged and the last 2% stay open; every 25th author is dependabot.
Deployments are spread evenly over the same time, each of the default branch head at its time:
two in three to production, every 10th fails, the last three are still in progress, and an older
successful production deployment is marked INACTIVE when the next one succeeds (as GitHub does).
Incident issues (label `incident`, half `cause:change`) open every so often and close three hours
later, except the last five; a fifth as many ordinary `bug` issues are mixed in.
"""

from __future__ import annotations

import bisect
import datetime as dt

from fake_github.model import MINUTE, FakeRepo

HOUR = dt.timedelta(hours=1)


def build_repo(owner: str = "acme", name: str = "app", *, prs: int = 1000,
               commits_per_pr: int = 3, reviews_per_pr: int = 2, deployments: int = 500,
               incidents: int = 100, releases: int = 20, workflow_runs: int = 0,
               start: dt.datetime | None = None, database_id: int = 1000) -> FakeRepo:
    """A repository with the given numbers of each thing (see module doc)."""
    if start is None:
        # End close to now, so unfinished deployments are recent enough to be revisited.
        today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - dt.timedelta(hours=2 * prs + 48)
    repo = FakeRepo(owner, name, database_id=database_id, created_at=start - 24 * HOUR)
    repo.commit("Initial commit", start - 12 * HOUR)
    heads: list[tuple[dt.datetime, str]] = [(start - 12 * HOUR, repo.head or "")]
    _pull_requests(repo, prs, commits_per_pr, reviews_per_pr, start, heads)
    end = start + 2 * prs * HOUR
    _deployments(repo, deployments, start, end, heads)
    for k in range(releases):
        at = start + (k + 1) * (end - start) / (releases + 1)
        repo.release(f"v1.{k}.0", _head_at(heads, at), at, at + 5 * MINUTE)
    _issues(repo, incidents, start, end)
    if workflow_runs:
        flow = repo.workflow("Deploy", ".github/workflows/deploy.yml")
        repo.workflow("CI", ".github/workflows/ci.yml")
        for k in range(workflow_runs):
            at = start + k * (end - start) / workflow_runs
            repo.run(flow, _head_at(heads, at), at,
                     conclusion="failure" if k % 10 == 9 else "success")
    return repo


def _pull_requests(repo: FakeRepo, count: int, commits: int, reviews: int,
                   start: dt.datetime, heads: list[tuple[dt.datetime, str]]) -> None:
    open_from = count - max(count // 50, 1)
    for i in range(1, count + 1):
        created = start + 2 * i * HOUR
        bot = i % 25 == 0
        author = "dependabot[bot]" if bot else f"dev-{i % 7}"
        pr = repo.pull_request(f"Change {i}", author, created, commits=commits, bot=bot,
                               labels=["dependencies"] if bot else [],
                               offset_hours=2 if i % 4 == 0 else 0)
        for k in range(reviews):
            reviewer_bot = k == 0 and i % 25 == 0
            reviewer = "copilot[bot]" if reviewer_bot else f"reviewer-{(i + k) % 5}"
            state = "APPROVED" if k == reviews - 1 else "COMMENTED"
            repo.review(pr, reviewer, created + (k + 1) * 40 * MINUTE, state, bot=reviewer_bot)
        if i > open_from:
            continue
        if i % 10 == 0:
            repo.close(pr, created + 5 * HOUR)
            continue
        merged = created + 3 * HOUR
        repo.merge(pr, merged, "merge" if i % 2 else "squash")
        heads.append((merged, repo.head or ""))


def _deployments(repo: FakeRepo, count: int, start: dt.datetime, end: dt.datetime,
                 heads: list[tuple[dt.datetime, str]]) -> None:
    last_success = None
    for k in range(count):
        at = start + (k + 0.5) * (end - start) / count
        environment = "staging" if k % 3 == 2 else "production"
        if k >= count - 3:
            statuses = [("IN_PROGRESS", at)]
        elif k % 10 == 9:
            statuses = [("IN_PROGRESS", at), ("FAILURE", at + 8 * MINUTE)]
        else:
            statuses = [("IN_PROGRESS", at), ("SUCCESS", at + 10 * MINUTE)]
        deployment = repo.deploy(_head_at(heads, at), environment, at, statuses)
        if environment == "production" and statuses[-1][0] == "SUCCESS":
            if last_success is not None:
                repo.add_status(last_success, "INACTIVE", at + 10 * MINUTE)
            last_success = deployment


def _issues(repo: FakeRepo, count: int, start: dt.datetime, end: dt.datetime) -> None:
    bugs = count // 5
    for k in range(count):
        opened = start + (k + 0.3) * (end - start) / max(count, 1)
        labels = ["incident", "cause:change" if k % 2 == 0 else "severity:high"]
        closed = None if k >= count - 5 else opened + 3 * HOUR
        repo.issue(f"Incident {k}", opened, labels, closed)
        if k < bugs:
            repo.issue(f"Bug {k}", opened + HOUR, ["bug"], opened + 2 * HOUR)


def _head_at(heads: list[tuple[dt.datetime, str]], at: dt.datetime) -> str:
    """The default branch head at time `at`."""
    index = bisect.bisect_right([t for t, _ in heads], at) - 1
    return heads[max(index, 0)][1]
