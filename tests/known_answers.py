"""A known-answer dataset for every rule of docs/metrics.md, with the working shown.

Team `payments` owns service `api` (repo `acme/api`, commit graph present). All times UTC unless
an offset is written. The expected numbers in tests/unit/test_definitions.py are worked out below.

Commit graph of acme/api (main branch, oldest first)::

    c0 ── m1 ── b1 ── q2 ── c6 ── c8 ── c9
      \\   /          (q2 = squash of PR #2, whose own commit s2a is not on main)
       p1a ─ p1b     (PR #1, a true merge: m1 has parents c0 and p1b)

Deployments of `api` to production (status success unless said):
    D1 2026-01-05 10:00  c0   first deployment: the baseline (c0 is not a change)
    D2 2026-01-07 10:00  b1   delivers p1a, p1b, m1, b1 → changes PR #1 and bare b1
                               (m1 is a merge commit, never a change by itself)
    D3 2026-01-08 12:00  q2   delivers q2 → change PR #2 (squash merge)
    D4 2026-01-08 13:00  q2   redeploy of the same revision: delivers nothing, no rollback
    D5 2026-01-09 09:00  b1   b1 is a strict ancestor of D4's q2: implicit rollback of D4
    D6 2026-01-09 12:00  c6   delivers c6
    D7 2026-01-09 14:00  q2   rollback_of D6 (and an implicit rollback too)
    D8 2026-01-10 09:00  c8   fix_for D7, label hotfix; delivers c8
    DF 2026-01-10 10:00  c8   status failure            → not counted anywhere
    DS 2026-01-10 11:00  c8   environment staging       → not counted anywhere
    D9 2026-01-31 23:30-02:00 = 2026-02-01 01:30 UTC, c9 → February in UTC (January locally),
                               week of Monday 2026-01-26

Changes and lead times (delivery finished_at − start):
    PR #1  start = min authored of p1a (2026-01-06 09:00+02:00 = 07:00) and p1b (10:00) = 07:00
           delivered by D2 2026-01-07 10:00 → 27 h
           coding = created 11:00 − 07:00 = 4 h; pickup = bob's review 13:00 − 11:00 = 2 h;
           review = merged 15:00 − 13:00 = 2 h; deploy = D2 − merged = 19 h
    b1     authored 2026-01-07 08:00 → D2 → 2 h
    PR #2  start = s2a authored 2026-01-08 06:00 → D3 12:00 → 6 h; pickup skips the bot and the
           author's own review: carol 09:00 − created 07:00 = 2 h
    c6     authored 2026-01-09 10:00 → D6 12:00 → 2 h
    c8     authored 2026-01-10 08:00 → D8 09:00 → 1 h
    c9     authored 2026-01-31 20:00-05:00 = 2026-02-01 01:00 → D9 01:30 → 0.5 h

Incidents:
    I1 deployment_id D3, cause change, 2026-01-08 12:30 → 16:00     → D3 (by id), 3.5 h
    I2 commit_sha c8, no cause (= unknown), opened 2026-01-10 11:00, unresolved → D8 (by sha)
    I3 no ids, opened 2026-01-09 13:00, resolved 15:00              → D6 (by time, 1 h before)
    I4 no ids, opened 2026-01-27 10:00, resolved 12:00 → latest earlier deployment D8 is
       409 h before, outside the 168 h window: unattributed
    I5 deployment_id D3 but cause infrastructure, 12:45 → 13:45     → never attributed, 1 h
    I6 service `mystery` (not in the config), 2026-01-21 → team `unassigned`, unresolved

Outcomes:
    D3 failed (incident I1)          restored 16:00 (I1 resolved)         → 4 h
    D4 failed (implicit rollback)    restored by D5 2026-01-09 09:00      → 20 h
    D6 failed (rollback, implicit rollback, incident I3); restored = earliest of D7 14:00 and
       I3 resolved 15:00 = 14:00                                          → 2 h
    D7 failed (fix by D8)            restored by D8 2026-01-10 09:00      → 19 h
    D8 failed (incident I2)          I2 unresolved, nothing undoes it     → unrecovered
    rework: D5 (implicit rollback), D7 (rollback), D8 (fix, hotfix)

Week of 2026-01-05 for payments:
    deployments 8 (D1–D8), deploy_days 5 (Jan 5, 7, 8, 9, 10)
    changes 5; lead times sorted 1, 2, 2, 6, 27 → p50 = 2; p90 at rank 0.9·4 = 3.6 → 6 + 0.6·21
       = 18.6
    failed 5 → change_failure_rate 5/8 = 0.625; rework 3 → rework_rate 0.375
    recovery hours sorted 2, 4, 19, 20 → fdrt_p50 = 11.5; unrecovered 1
    incidents opened I1, I2, I3, I5 = 4; resolved I1 3.5 h, I3 2 h, I5 1 h → p50 2 h
    SLO api-availability (objective 0.99): 995/1000 + 990/1000 = 0.9925 → met; budget left
       1 − 0.0075/0.01 = 0.25
Week of 2026-01-12: no deployment or change; SLI 980/1000 = 0.98 → missed, budget 1 − 2 = −1.
Week of 2026-01-19: nothing at all for payments → a row of zeros and NULLs.
Week of 2026-01-26: I4 opened and resolved (2 h); D9 with c9 (0.5 h).
Months: January has D1–D8 (8), February has D9 (1).
"""

from __future__ import annotations

C = "acme/api"


def _commit(sha: str, parents: list[str], authored: str, committed: str | None = None) -> dict:
    return {"repo": C, "sha": sha, "parents": parents, "authored_at": authored,
            "committed_at": committed or authored, "author": "alice", "message": f"{sha} work"}


COMMITS = [
    _commit("c0", [], "2026-01-05T08:00:00Z"),
    _commit("p1a", ["c0"], "2026-01-06T09:00:00+02:00"),
    _commit("p1b", ["p1a"], "2026-01-06T10:00:00Z"),
    _commit("m1", ["c0", "p1b"], "2026-01-06T15:00:00Z"),
    _commit("b1", ["m1"], "2026-01-07T08:00:00Z", "2026-01-07T08:30:00Z"),
    _commit("s2a", ["b1"], "2026-01-08T06:00:00Z"),
    _commit("q2", ["b1"], "2026-01-08T10:00:00Z"),
    _commit("c6", ["q2"], "2026-01-09T10:00:00Z"),
    _commit("c8", ["c6"], "2026-01-10T08:00:00Z"),
    _commit("c9", ["c8"], "2026-01-31T20:00:00-05:00"),
]

PULL_REQUESTS = [
    {"repo": C, "number": 1, "title": "Add refunds", "author": "alice",
     "created_at": "2026-01-06T11:00:00Z", "merged_at": "2026-01-06T15:00:00Z",
     "merge_commit_sha": "m1", "commit_shas": ["p1a", "p1b"],
     "reviews": [{"author": "bob", "submitted_at": "2026-01-06T13:00:00Z", "state": "APPROVED"}]},
    {"repo": C, "number": 2, "title": "Squashed fix", "author": "alice",
     "created_at": "2026-01-08T07:00:00Z", "merged_at": "2026-01-08T10:00:00Z",
     "merge_commit_sha": "q2", "commit_shas": ["s2a"],
     "reviews": [
         {"author": "renovate[bot]", "submitted_at": "2026-01-08T07:30:00Z", "state": "COMMENTED"},
         {"author": "alice", "submitted_at": "2026-01-08T07:45:00Z", "state": "COMMENTED"},
         {"author": "carol", "submitted_at": "2026-01-08T09:00:00Z", "state": "APPROVED"}]},
    {"repo": C, "number": 3, "title": "Abandoned", "author": "dan",
     "created_at": "2026-01-08T07:00:00Z", "closed_at": "2026-01-08T08:00:00Z",
     "commit_shas": []},
]


def _deploy(id_: str, revision: str, finished: str, **extra: object) -> dict:
    return {"id": id_, "service": "api", "environment": "production", "revision": revision,
            "finished_at": finished, "status": "success", **extra}


DEPLOYMENTS = [
    _deploy("D1", "c0", "2026-01-05T10:00:00Z"),
    _deploy("D2", "b1", "2026-01-07T10:00:00Z"),
    _deploy("D3", "q2", "2026-01-08T12:00:00Z"),
    _deploy("D4", "q2", "2026-01-08T13:00:00Z"),
    _deploy("D5", "b1", "2026-01-09T09:00:00Z"),
    _deploy("D6", "c6", "2026-01-09T12:00:00Z"),
    _deploy("D7", "q2", "2026-01-09T14:00:00Z", rollback_of="D6"),
    _deploy("D8", "c8", "2026-01-10T09:00:00Z", fix_for="D7", labels=["hotfix"]),
    _deploy("DF", "c8", "2026-01-10T10:00:00Z", status="failure"),
    _deploy("DS", "c8", "2026-01-10T11:00:00Z", environment="staging"),
    _deploy("D9", "c9", "2026-01-31T23:30:00-02:00"),
]

INCIDENTS = [
    {"id": "I1", "service": "api", "opened_at": "2026-01-08T12:30:00Z",
     "resolved_at": "2026-01-08T16:00:00Z", "cause": "change", "deployment_id": "D3"},
    {"id": "I2", "service": "api", "opened_at": "2026-01-10T11:00:00Z", "commit_sha": "c8"},
    {"id": "I3", "service": "api", "opened_at": "2026-01-09T13:00:00Z",
     "resolved_at": "2026-01-09T15:00:00Z", "cause": "unknown"},
    {"id": "I4", "service": "api", "opened_at": "2026-01-27T10:00:00Z",
     "resolved_at": "2026-01-27T12:00:00Z", "cause": "change"},
    {"id": "I5", "service": "api", "opened_at": "2026-01-08T12:45:00Z",
     "resolved_at": "2026-01-08T13:45:00Z", "cause": "infrastructure", "deployment_id": "D3"},
    {"id": "I6", "service": "mystery", "opened_at": "2026-01-21T10:00:00Z"},
]

SLI = [
    {"slo": "api-availability", "window_start": "2026-01-05T00:00:00Z",
     "window_end": "2026-01-06T00:00:00Z", "good": 995, "total": 1000},
    {"slo": "api-availability", "window_start": "2026-01-06T00:00:00Z",
     "window_end": "2026-01-07T00:00:00Z", "good": 990, "total": 1000},
    {"slo": "api-availability", "window_start": "2026-01-12T00:00:00Z",
     "window_end": "2026-01-13T00:00:00Z", "good": 980, "total": 1000},
]

SLOS = [{"name": "api-availability", "service": "api", "objective": 0.99}]
