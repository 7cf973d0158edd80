"""A known-answer monorepo for services by path, ownership over time, CODEOWNERS and people.

Repo `acme/mono` (commit graph present, all times UTC) holds three services owned by two teams:

    service      paths                 owner
    ledger       services/ledger/**    core
    billing      services/billing/**   payments until 2026-02-18, core from 2026-02-18
    shared-lib   libs/**               core

`billing` moves team on Wednesday 2026-02-18, in the middle of Q1 and of the week of Monday
2026-02-16. The people view has `members`: payments = alice, bob until 2026-02-10;
core = carol, bob from 2026-02-10 (bob moves team too).

Commits on main (pN are the PR branch commits, squashed into cN)::

    c0 ── c1 ── c2 ── c3 ── c4 ── c5
    c0  02-02 08:00  ledger, billing, libs, README.md      (initial; the baseline)
    c1  02-03 09:00  squash of PR #1: services/ledger/api.py + libs/money/round.py
    c2  02-03 10:00  squash of PR #2: services/billing/api.py + libs/money/round.py
    c3  02-04 08:00  README.md only                         → belongs to no service
    c4  02-16 09:00  services/billing/api.py + services/billing/vendor/sdk.py (bare, carol)
    c5  02-19 09:30  squash of PR #3: services/billing/api.py + services/billing/README.md

PRs: #1 by `Alice` (created 02-03 08:00, bob reviews 08:30, merged 09:00, commit p1 authored
07:00); #2 by bob (created 08:30, alice reviews 09:30, merged 10:00, p2 authored 06:00);
#3 by bob (created 02-19 08:30, alice reviews 09:00, merged 09:30, p3 authored 08:00).

Deployments (production, success):
    L1 ledger c0 02-02 12:00   B1 billing c0 02-02 12:00   S1 shared-lib c0 02-02 12:00
    L2 ledger c2 02-03 12:00   contains c1 and c2; delivers PR #1 only (c2 never touched ledger)
    S2 shared-lib c3 02-04 12:00  delivers PR #1 and PR #2 (both touched libs/)
    B2 billing c3 02-05 12:00  delivers PR #2
    B3 billing c4 02-17 12:00  delivers c4 (payments still owns billing)
    L3 ledger c4 02-17 15:00   contains c3 and c4, neither touches ledger: delivers nothing
    B4 billing c5 02-19 12:00  delivers PR #3 (core owns billing now)

Changes (one row per change and service; lead = delivery − start):
    ledger      PR #1  L2  12:00 − 07:00 = 5 h       core
    shared-lib  PR #1  S2  02-04 12:00 − 02-03 07:00 = 29 h   core
    shared-lib  PR #2  S2  02-04 12:00 − 02-03 06:00 = 30 h   core
    billing     PR #2  B2  02-05 12:00 − 02-03 06:00 = 54 h   payments
    billing     c4     B3  02-17 12:00 − 02-16 09:00 = 27 h   payments (before the move)
    billing     PR #3  B4  12:00 − 08:00 = 4 h                core (after the move)
PR #1 touched two services of core, so core counts it twice (once per service, delivered by two
deployments a day apart); PR #2 counts once for payments (billing) and once for core
(shared-lib).
Breakdown: PR #1 coding 1, pickup 0.5, review 0.5, deploy 3 (ledger) / 27 (shared-lib);
PR #2 coding 2.5, pickup 1, review 0.5, deploy 26 (shared-lib) / 50 (billing);
PR #3 coding 0.5, pickup 0.5, review 0.5, deploy 2.5.

Incidents: I1 billing, cause change, deployment B3, opened 02-17 14:00 (payments' time),
resolved 02-18 10:00 (after the move) → payments: B3 failed, recovery 22 h, restore 20 h.
I2 billing, cause infrastructure, opened 02-20 09:00 → core, resolved 11:00 → 2 h.
SLO billing-availability (0.99): window 02-17 995/1000 → payments, met; window 02-19 980/1000
→ core, missed.

team_metrics, week of 2026-02-02: core 4 deployments (L1 S1 L2 S2) on 3 days, 3 changes,
    lead 5, 29, 30 → p50 29, p90 29 + 0.8·1 = 29.8; payments 2 deployments (B1 B2), 1 change 54.
week of 2026-02-09: nothing for either team (zeros).
week of 2026-02-16: payments 1 deployment (B3), 1 change (27), failed 1 → CFR 1.0, recovery
    22 h, incidents 1 opened, restore 20 h, SLO 1 of 1 met; core 2 deployments (L3, B4),
    1 change (4), CFR 0, 1 incident (2 h), SLO 0 of 1 met.
month 2026-02: core 6 deployments, 4 changes (4, 5, 29, 30 → p50 17); payments 3 deployments,
    2 changes (27, 54 → p50 40.5), CFR 1/3.
reorganisations: 2026-02-18 billing: payments `left` (counterpart core), core `joined`
    (counterpart payments).

People view (PR rows only, author's team at delivery): PR #1 ×2 (Alice → alice → payments),
PR #2 ×2 (bob, delivered 02-04 and 02-05, before his move → payments), PR #3 (bob, 02-19 → core).
    payments week 02-02: 4 changes, lead 5, 29, 30, 54 → p50 29.5, p90 30 + 0.7·24 = 46.8;
        coding 1, 1, 2.5, 2.5 → 1.75; pickup 0.5, 0.5, 1, 1 → 0.75; review 0.5;
        deploy 3, 26, 27, 50 → 26.5.
    core week 02-16: 1 change, lead 4, coding 0.5, pickup 0.5, review 0.5, deploy 2.5.

CODEOWNERS (see `CODEOWNERS` below; aliases @acme/ledger-devs and @acme/platform → core;
@acme/payments → its slug `payments`; @acme/docs → `docs`):
    ledger PR #1      services/ledger/api.py → /services/ledger/ → core
    shared-lib #1, #2 libs/money/round.py → libs/ (any depth) → core
    billing PR #2     services/billing/api.py → /services/billing/ → payments
    billing c4        api.py → payments; vendor/sdk.py → the later owner-less rule un-owns it
                      → payments, owned_files 1
    billing PR #3     api.py → payments; README.md → `*.md` comes later and wins → docs
    team_metrics_by_code_owner week 02-16: payments 2 changes (27, 4 → p50 15.5), docs 1 (4).
    PR #3 is core's in the service view but payments' here: CODEOWNERS has no dates, and this
    file was not updated after the move.
"""

from __future__ import annotations

R = "acme/mono"
LEDGER = "services/ledger/api.py"
BILLING = "services/billing/api.py"
LIBS = "libs/money/round.py"

SERVICES = [
    {"name": "ledger", "repo": R, "paths": ["services/ledger/**"]},
    {"name": "billing", "repo": R, "paths": ["services/billing/**"]},
    {"name": "shared-lib", "repo": R, "paths": ["libs/**"]},
]

TEAMS = [
    {"name": "core",
     "services": ["ledger", "shared-lib", {"name": "billing", "from": "2026-02-18"}],
     "members": ["carol", {"name": "bob", "from": "2026-02-10"}]},
    {"name": "payments",
     "services": [{"name": "billing", "until": "2026-02-18"}],
     "members": ["alice", {"name": "bob", "until": "2026-02-10"}]},
]

CODEOWNERS = """\
# acme/mono code owners: the last matching pattern wins
*                          @acme/platform
/services/ledger/          @acme/ledger-devs
/services/billing/         @acme/payments
libs/                      @acme/ledger-devs   # any libs/ folder, at any depth
*.md                       @acme/docs
/services/billing/vendor/                      # vendored code: nobody owns it
!services/ledger/legacy/   @acme/platform
"""

ALIASES = {"@acme/ledger-devs": "core", "@ACME/Platform": "core"}


def _commit(sha: str, parents: list[str], at: str, files: list[str],
            author: str = "dan") -> dict:
    return {"repo": R, "sha": sha, "parents": parents, "authored_at": at, "committed_at": at,
            "author": author, "message": f"{sha} work", "files": files}


COMMITS = [
    _commit("c0", [], "2026-02-02T08:00:00Z", [LEDGER, BILLING, LIBS, "README.md"]),
    _commit("p1", ["c0"], "2026-02-03T07:00:00Z", [LEDGER, LIBS], "alice"),
    _commit("c1", ["c0"], "2026-02-03T09:00:00Z", [LEDGER, LIBS], "alice"),
    _commit("p2", ["c0"], "2026-02-03T06:00:00Z", [BILLING, LIBS], "bob"),
    _commit("c2", ["c1"], "2026-02-03T10:00:00Z", [BILLING, LIBS], "bob"),
    _commit("c3", ["c2"], "2026-02-04T08:00:00Z", ["README.md"]),
    _commit("c4", ["c3"], "2026-02-16T09:00:00Z",
            [BILLING, "services/billing/vendor/sdk.py"], "carol"),
    _commit("p3", ["c4"], "2026-02-19T08:00:00Z", [BILLING, "services/billing/README.md"], "bob"),
    _commit("c5", ["c4"], "2026-02-19T09:30:00Z", [BILLING, "services/billing/README.md"], "bob"),
]


def _pr(number: int, author: str, created: str, merged: str, merge: str, commit: str,
        reviewer: str, reviewed: str) -> dict:
    return {"repo": R, "number": number, "title": f"PR {number}", "author": author,
            "created_at": created, "merged_at": merged, "merge_commit_sha": merge,
            "commit_shas": [commit],
            "reviews": [{"author": reviewer, "submitted_at": reviewed, "state": "APPROVED"}]}


PULL_REQUESTS = [
    _pr(1, "Alice", "2026-02-03T08:00:00Z", "2026-02-03T09:00:00Z", "c1", "p1",
        "bob", "2026-02-03T08:30:00Z"),
    _pr(2, "bob", "2026-02-03T08:30:00Z", "2026-02-03T10:00:00Z", "c2", "p2",
        "alice", "2026-02-03T09:30:00Z"),
    _pr(3, "bob", "2026-02-19T08:30:00Z", "2026-02-19T09:30:00Z", "c5", "p3",
        "alice", "2026-02-19T09:00:00Z"),
]


def _deploy(id_: str, service: str, revision: str, finished: str) -> dict:
    return {"id": id_, "service": service, "environment": "production", "revision": revision,
            "finished_at": finished, "status": "success"}


DEPLOYMENTS = [
    _deploy("L1", "ledger", "c0", "2026-02-02T12:00:00Z"),
    _deploy("B1", "billing", "c0", "2026-02-02T12:00:00Z"),
    _deploy("S1", "shared-lib", "c0", "2026-02-02T12:00:00Z"),
    _deploy("L2", "ledger", "c2", "2026-02-03T12:00:00Z"),
    _deploy("S2", "shared-lib", "c3", "2026-02-04T12:00:00Z"),
    _deploy("B2", "billing", "c3", "2026-02-05T12:00:00Z"),
    _deploy("B3", "billing", "c4", "2026-02-17T12:00:00Z"),
    _deploy("L3", "ledger", "c4", "2026-02-17T15:00:00Z"),
    _deploy("B4", "billing", "c5", "2026-02-19T12:00:00Z"),
]

INCIDENTS = [
    {"id": "I1", "service": "billing", "opened_at": "2026-02-17T14:00:00Z",
     "resolved_at": "2026-02-18T10:00:00Z", "cause": "change", "deployment_id": "B3"},
    {"id": "I2", "service": "billing", "opened_at": "2026-02-20T09:00:00Z",
     "resolved_at": "2026-02-20T11:00:00Z", "cause": "infrastructure"},
]

SLOS = [{"name": "billing-availability", "service": "billing", "objective": 0.99}]

SLI = [
    {"slo": "billing-availability", "window_start": "2026-02-17T00:00:00Z",
     "window_end": "2026-02-18T00:00:00Z", "good": 995, "total": 1000},
    {"slo": "billing-availability", "window_start": "2026-02-19T00:00:00Z",
     "window_end": "2026-02-20T00:00:00Z", "good": 980, "total": 1000},
]
