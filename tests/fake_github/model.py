"""An in-memory GitHub repository: commits, pull requests, deployments, releases, issues, runs.

Tests build one with the methods below (or `generate.build_repo` for a large one), then mutate it
between syncs (merge a PR, finish a deployment) to exercise incremental syncs. Times are aware
datetimes; commit times keep their author's offset, as git does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)


@dataclass
class FakeCommit:
    sha: str
    parents: list[str]
    authored_at: dt.datetime
    committed_at: dt.datetime
    author_name: str
    author_login: str | None
    message: str


@dataclass
class FakeReview:
    author: str
    submitted_at: dt.datetime | None  # None: a pending review
    state: str
    is_bot: bool = False


@dataclass
class FakePullRequest:
    number: int
    title: str
    author: str
    author_is_bot: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    base: str
    commit_shas: list[str]
    reviews: list[FakeReview] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    merged_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    merge_commit_sha: str | None = None
    repo_id: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return f"PR_{self.repo_id}n{self.number}"

    @property
    def state(self) -> str:
        return "MERGED" if self.merged_at else "CLOSED" if self.closed_at else "OPEN"


@dataclass
class FakeDeployment:
    database_id: int
    environment: str
    sha: str
    created_at: dt.datetime
    statuses: list[tuple[str, dt.datetime]] = field(default_factory=list)
    task: str = "deploy"
    repo_id: int = 0

    @property
    def node_id(self) -> str:
        return f"DE_{self.repo_id}n{self.database_id}"

    @property
    def updated_at(self) -> dt.datetime:
        return max([self.created_at, *(at for _, at in self.statuses)])

    @property
    def state(self) -> str:
        if not self.statuses:
            return "PENDING"
        latest = max(self.statuses, key=lambda s: s[1])[0]
        return "ACTIVE" if latest == "SUCCESS" else latest


@dataclass
class FakeRelease:
    database_id: int
    tag_name: str
    sha: str
    created_at: dt.datetime
    published_at: dt.datetime | None
    is_draft: bool = False
    is_prerelease: bool = False
    repo_id: int = 0

    @property
    def node_id(self) -> str:
        return f"RE_{self.repo_id}n{self.database_id}"


@dataclass
class FakeIssue:
    number: int
    title: str
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime
    labels: list[str]
    closed_at: dt.datetime | None = None
    repo_id: int = 0

    @property
    def node_id(self) -> str:
        return f"I_{self.repo_id}n{self.number}"


@dataclass
class FakeWorkflow:
    id: int
    name: str
    path: str


@dataclass
class FakeRun:
    id: int
    workflow_id: int
    head_sha: str
    head_branch: str
    event: str
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str = "completed"
    conclusion: str | None = "success"


class FakeRepo:
    """One repository's data, with builder methods that keep it consistent like GitHub does."""

    def __init__(self, owner: str = "acme", name: str = "app", database_id: int = 1000,
                 created_at: dt.datetime | None = None, default_branch: str = "main") -> None:
        self.owner, self.name, self.database_id = owner, name, database_id
        self.created_at = created_at or dt.datetime(2024, 1, 1, tzinfo=UTC)
        self.default_branch = default_branch
        self.branches: dict[str, str | None] = {default_branch: None}
        self.commits: dict[str, FakeCommit] = {}
        self.pull_requests: dict[int, FakePullRequest] = {}
        self.deployments: dict[int, FakeDeployment] = {}
        self.releases: dict[int, FakeRelease] = {}
        self.issues: dict[int, FakeIssue] = {}
        self.workflows: dict[int, FakeWorkflow] = {}
        self.runs: dict[int, FakeRun] = {}
        self._number = 0
        self._ids = 0
        self._history_cache: dict[str, list[str]] = {}

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def head(self) -> str | None:
        return self.branches[self.default_branch]

    def _next_id(self) -> int:
        self._ids += 1
        return self.database_id * 10_000 + self._ids

    # --- commits ---------------------------------------------------------------------------

    def commit(self, message: str, at: dt.datetime, *, parents: list[str] | None = None,
               author: str = "dev", login: str | None = "dev", offset_hours: float = 0,
               authored_at: dt.datetime | None = None, branch: str | None = None) -> str:
        """A new commit; on `branch` (default: when parents are not given) it moves the head."""
        if parents is None:
            branch = branch or self.default_branch
            head = self.branches.get(branch)
            parents = [head] if head else []
        tz = dt.timezone(dt.timedelta(hours=offset_hours))
        seed = f"{message}|{at.isoformat()}|{','.join(parents)}|{len(self.commits)}"
        sha = hashlib.sha1(seed.encode()).hexdigest()
        self.commits[sha] = FakeCommit(
            sha=sha, parents=list(parents), authored_at=(authored_at or at).astimezone(tz),
            committed_at=at.astimezone(tz), author_name=author, author_login=login,
            message=message,
        )
        if branch:
            self.branches[branch] = sha
        self._history_cache.clear()
        return sha

    def history(self, sha: str) -> list[str]:
        """Commits reachable from `sha`, newest committer date first (like `git log`)."""
        if sha not in self._history_cache:
            seen: set[str] = set()
            stack = [sha]
            while stack:
                current = stack.pop()
                if current in seen or current not in self.commits:
                    continue
                seen.add(current)
                stack.extend(self.commits[current].parents)
            self._history_cache[sha] = sorted(
                seen, key=lambda s: (self.commits[s].committed_at, s), reverse=True
            )
        return self._history_cache[sha]

    def compare(self, base: str, head: str) -> list[str]:
        """Commits reachable from `head` and not from `base`, oldest first."""
        known = set(self.history(base))
        return [s for s in reversed(self.history(head)) if s not in known]

    # --- pull requests ---------------------------------------------------------------------

    def pull_request(self, title: str, author: str, created_at: dt.datetime, *,
                     commits: int = 3, bot: bool = False, labels: list[str] | None = None,
                     offset_hours: float = 0, base: str | None = None) -> FakePullRequest:
        """A PR whose `commits` commits branch off the default branch head, authored before it."""
        self._number += 1
        parent = self.head
        shas = []
        for k in range(commits):
            at = created_at - (commits - k) * 10 * MINUTE
            sha = self.commit(f"{title} part {k + 1}", at, parents=[parent] if parent else [],
                              author=author, login=author, offset_hours=offset_hours)
            shas.append(sha)
            parent = sha
        pr = FakePullRequest(
            number=self._number, title=title, author=author, author_is_bot=bot,
            created_at=created_at, updated_at=created_at, base=base or self.default_branch,
            commit_shas=shas, labels=list(labels or []), repo_id=self.database_id,
        )
        self.pull_requests[pr.number] = pr
        return pr

    def review(self, pr: FakePullRequest, author: str, at: dt.datetime | None,
               state: str = "APPROVED", bot: bool = False) -> None:
        pr.reviews.append(FakeReview(author=author, submitted_at=at, state=state, is_bot=bot))
        if at:
            pr.updated_at = max(pr.updated_at, at)

    def merge(self, pr: FakePullRequest, at: dt.datetime, style: str = "merge") -> str:
        """Merge `pr` into the default branch: a merge commit, or a squash commit."""
        head = self.head
        if style == "merge":
            parents = [p for p in (head, pr.commit_shas[-1]) if p]
            sha = self.commit(f"Merge pull request #{pr.number}", at, parents=parents,
                              author="GitHub", login=None)
            self.branches[self.default_branch] = sha
        else:
            sha = self.commit(f"{pr.title} (#{pr.number})", at, author=pr.author, login=pr.author)
        pr.merged_at = pr.closed_at = pr.updated_at = at
        pr.merge_commit_sha = sha
        return sha

    def close(self, pr: FakePullRequest, at: dt.datetime) -> None:
        pr.closed_at = pr.updated_at = at

    # --- deployments and releases ----------------------------------------------------------

    def deploy(self, sha: str, environment: str, at: dt.datetime,
               statuses: list[tuple[str, dt.datetime]] | None = None) -> FakeDeployment:
        """A deployment; default statuses: IN_PROGRESS at `at`, SUCCESS ten minutes later."""
        if statuses is None:
            statuses = [("IN_PROGRESS", at), ("SUCCESS", at + 10 * MINUTE)]
        deployment = FakeDeployment(database_id=self._next_id(), environment=environment,
                                    sha=sha, created_at=at, statuses=list(statuses),
                                    repo_id=self.database_id)
        self.deployments[deployment.database_id] = deployment
        return deployment

    def add_status(self, deployment: FakeDeployment, state: str, at: dt.datetime) -> None:
        deployment.statuses.append((state, at))

    def release(self, tag: str, sha: str, created_at: dt.datetime,
                published_at: dt.datetime | None = None, *, draft: bool = False,
                prerelease: bool = False) -> FakeRelease:
        release = FakeRelease(
            database_id=self._next_id(), tag_name=tag, sha=sha, created_at=created_at,
            published_at=None if draft else (published_at or created_at), is_draft=draft,
            is_prerelease=prerelease, repo_id=self.database_id,
        )
        self.releases[release.database_id] = release
        return release

    def publish(self, release: FakeRelease, at: dt.datetime) -> None:
        release.is_draft, release.published_at = False, at

    # --- issues and workflow runs ----------------------------------------------------------

    def issue(self, title: str, created_at: dt.datetime, labels: list[str],
              closed_at: dt.datetime | None = None, author: str = "oncall") -> FakeIssue:
        self._number += 1
        issue = FakeIssue(number=self._number, title=title, author=author,
                          created_at=created_at, updated_at=closed_at or created_at,
                          labels=list(labels), closed_at=closed_at, repo_id=self.database_id)
        self.issues[issue.number] = issue
        return issue

    def close_issue(self, issue: FakeIssue, at: dt.datetime) -> None:
        issue.closed_at = issue.updated_at = at

    def workflow(self, name: str, path: str) -> FakeWorkflow:
        flow = FakeWorkflow(id=self._next_id(), name=name, path=path)
        self.workflows[flow.id] = flow
        return flow

    def run(self, workflow: FakeWorkflow, sha: str, created_at: dt.datetime, *,
            status: str = "completed", conclusion: str | None = "success",
            event: str = "push", minutes: int = 5) -> FakeRun:
        run = FakeRun(id=self._next_id(), workflow_id=workflow.id, head_sha=sha,
                      head_branch=self.default_branch, event=event, created_at=created_at,
                      updated_at=created_at + minutes * MINUTE, status=status,
                      conclusion=conclusion if status == "completed" else None)
        self.runs[run.id] = run
        return run

    def node(self, node_id: str) -> object | None:
        """The object with GraphQL id `node_id`, if any."""
        kind, _, rest = node_id.partition("_")
        repo_id, _, key = rest.partition("n")
        if repo_id != str(self.database_id) or not key.isdigit():
            return None
        table = {"PR": self.pull_requests, "DE": self.deployments, "RE": self.releases,
                 "I": self.issues}.get(kind, {})
        return table.get(int(key))
