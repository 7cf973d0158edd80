"""The demo organisation's simulation: the time window, work times, pull requests planned per
service, the main line, deployments with their failures and remedies, and incidents (part of
`pipelines.demo.generator`). All times are whole seconds since the epoch (UTC).

Names with a leading underscore are private to the `pipelines.demo` package.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from pipelines.demo.roster import (
    _BOTS,
    TREND_SPAN,
    OrgShape,
    _Service,
)

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NULL = -1  # sentinel for a missing time in the int64 arrays (every real time is > 0)

# Pull-request kinds and label sets (indices into _LABELS).
HUMAN, BOT, HOTFIX = 0, 1, 2
_LABELS: tuple[tuple[str, ...], ...] = (
    ("feature",),
    ("bug",),
    ("chore",),
    (),
    ("dependencies",),
    ("hotfix", "bug"),
)
_LABEL_DEPS, _LABEL_HOTFIX = 4, 5


# ------------------------------------------------------------------------------------------
# time helpers


@dataclass(frozen=True)
class _Window:
    start: int
    end: int

    @property
    def days(self) -> int:
        return (self.end - self.start) // DAY

    def frac(self, t: Any) -> Any:
        """Position of `t` in the window, 0 at the start, 1 at the end (scalar or array)."""
        if isinstance(t, int):
            return (t - self.start) / (self.end - self.start)
        return (np.asarray(t, dtype=np.float64) - self.start) / (self.end - self.start)


def _window(shape: OrgShape) -> _Window:
    month0 = shape.end.year * 12 + shape.end.month - 1 - shape.months
    year, month = divmod(month0, 12)
    day = min(shape.end.day, calendar.monthrange(year, month + 1)[1])
    return _Window(_epoch(date(year, month + 1, day)), _epoch(shape.end))


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def _multiplier(direction: float, frac: Any) -> Any:
    """A team's pace multiplier: durations and failure odds scale with it (lower is better)."""
    # Quadratic in time: change accelerates, so the last weeks move fastest and a short
    # (12-week) trend test sees it, while the year still spans exp(TREND_SPAN).
    if isinstance(frac, float):  # the deploy simulation asks one time at a time
        return math.exp(direction * TREND_SPAN * (0.5 - frac**2))
    frac = np.asarray(frac, dtype=np.float64)
    return np.exp(direction * TREND_SPAN * (0.5 - frac**2))


@functools.cache
def _day_weights(win: _Window) -> np.ndarray:
    """Relative activity per day: weekdays busy, weekends and the year-end holidays quiet."""
    days = win.start // DAY + np.arange(win.days)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weights = np.where(weekday < 5, 1.0, 0.05)
    doy = np.array([datetime.fromtimestamp(int(d) * DAY, UTC).timetuple().tm_yday for d in days])
    holidays = (doy >= 358) | (doy <= 2)
    return np.where(holidays, weights * 0.2, weights)


def _sample_work_times(
    rng: np.random.Generator, win: _Window, n: int, weights: np.ndarray
) -> np.ndarray:
    """`n` sorted, distinct times on days drawn by `weights`, mostly in working hours."""
    days = rng.choice(weights.size, size=n, p=weights / weights.sum())
    tod = np.clip(rng.normal(14.0 * HOUR, 2.6 * HOUR, n), 7 * HOUR, 22 * HOUR).astype(np.int64)
    return _distinct(np.sort(win.start + days.astype(np.int64) * DAY + tod))


def _distinct(sorted_times: np.ndarray) -> np.ndarray:
    """Nudge equal neighbours apart by a second, so time identifies a main-line position."""
    steps = np.arange(sorted_times.size, dtype=np.int64)
    return np.maximum.accumulate(sorted_times - steps) + steps


def _lognormal(rng: np.random.Generator, median: Any, sigma: float, size: int | None = None) -> Any:
    """Log-normal draws around `median` (scalar or array); one draw per element of `median`."""
    median = np.asarray(median, dtype=np.float64)
    shape = size if size is not None else (median.shape or None)
    return median * rng.lognormal(0.0, sigma, shape)


def _next_work_time(rng: np.random.Generator, t: int) -> int:
    """`t` if it is in working hours (08–19 UTC, Mon–Fri), else the next morning's start."""
    day, tod = divmod(int(t), DAY)
    if (day + 3) % 7 < 5 and 8 * HOUR <= tod < 19 * HOUR:
        return int(t)
    day += 1 if tod >= 8 * HOUR else 0
    while (day + 3) % 7 >= 5:
        day += 1
    return day * DAY + int(8.5 * HOUR + rng.uniform(0, 2 * HOUR))


def _shas(rng: np.random.Generator, n: int) -> list[str]:
    """`n` random 40-hex commit ids (collisions are astronomically unlikely)."""
    text = rng.bytes(20 * n).hex()
    return [text[i : i + 40] for i in range(0, 40 * n, 40)]


# ------------------------------------------------------------------------------------------
# pull requests (planned before the deploy simulation; hotfixes are added during it)


def _concat_prs(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _plan_merged_prs(
    rng: np.random.Generator, win: _Window, svc: _Service, shape: OrgShape
) -> dict[str, np.ndarray]:
    """Merged PRs: merge times first, then the phases (coding, pickup, review) walked backwards."""
    day_frac = win.frac(win.start + DAY * (np.arange(win.days) + 0.5))
    # Teams that speed up also ship smaller, more frequent PRs; slowing teams keep their pace
    # of merging (and so keep enough weekly changes for their trend to show).
    pace = np.minimum(_multiplier(svc.team.direction, day_frac), 1.0)
    weights = _day_weights(win) * pace**-0.4
    n = int(rng.poisson(shape.prs_per_service_week * win.days / 7 * svc.activity))
    merged = _sample_work_times(rng, win, n, weights)
    pace = _multiplier(svc.team.direction, win.frac(merged)) * svc.speed
    bot = rng.random(n) < 0.08
    review = np.where(
        bot, _lognormal(rng, 1.5 * HOUR, 0.6, n), _lognormal(rng, 4 * HOUR * pace, 0.45)
    )
    pickup = _lognormal(rng, 2.5 * HOUR * pace, 0.5)
    coding = np.minimum(_lognormal(rng, 18 * HOUR * pace, 0.5), 30 * DAY)
    coding = np.where(bot, rng.uniform(MINUTE, 5 * MINUTE, n), coding)
    first_review = merged - review.astype(np.int64)
    created = first_review - pickup.astype(np.int64)
    label = rng.choice(4, size=n, p=[0.45, 0.25, 0.15, 0.15])
    return {
        "kind": np.where(bot, BOT, HUMAN).astype(np.int8),
        "author": _authors(rng, svc, n, bot),
        "created": created,
        "first_review": first_review,
        "merged": merged,
        "closed": merged.copy(),
        "first_authored": created - coding.astype(np.int64),
        "n_commits": np.where(bot, 1, np.minimum(rng.geometric(0.17, n), 40)),
        "squash": rng.random(n) < svc.squash_share,
        "label": np.where(bot, _LABEL_DEPS, label).astype(np.int8),
    }


def _plan_unmerged_prs(
    rng: np.random.Generator, win: _Window, svc: _Service, n_merged: int
) -> dict[str, np.ndarray]:
    """Abandoned PRs (closed, never merged) and a few still open at the end of the window."""
    n_closed = int(rng.poisson(0.1 * n_merged))
    n_open = int(rng.poisson(1.5))
    created = np.concatenate(
        [
            _sample_work_times(rng, win, n_closed, _day_weights(win)),
            win.end - rng.integers(2 * HOUR, 14 * DAY, n_open),
        ]
    )
    n = n_closed + n_open
    closed = created + _lognormal(rng, 2 * DAY, 1.0, n).astype(np.int64)
    closed = np.where((closed >= win.end) | (np.arange(n) >= n_closed), NULL, closed)
    return {
        "kind": np.full(n, HUMAN, dtype=np.int8),
        "author": _authors(rng, svc, n, np.zeros(n, dtype=bool)),
        "created": created,
        "first_review": np.full(n, NULL, dtype=np.int64),
        "merged": np.full(n, NULL, dtype=np.int64),
        "closed": closed,
        "first_authored": created - _lognormal(rng, 10 * HOUR, 0.8, n).astype(np.int64),
        "n_commits": np.minimum(rng.geometric(0.35, n), 20),
        "squash": np.zeros(n, dtype=bool),
        "label": rng.choice(4, size=n).astype(np.int8),
    }


def _authors(rng: np.random.Generator, svc: _Service, n: int, bot: np.ndarray) -> np.ndarray:
    humans = np.asarray(svc.team.members, dtype=object)[rng.integers(0, len(svc.team.members), n)]
    bots = np.asarray(_BOTS, dtype=object)[rng.integers(0, len(_BOTS), n)]
    return np.where(bot, bots, humans)


def _hotfix_pr(rng: np.random.Generator, svc: _Service, not_before: int) -> dict[str, Any]:
    """A small, fast-tracked PR that fixes a bad release; merged some time after `not_before`."""
    coding = int(rng.uniform(15 * MINUTE, 60 * MINUTE))
    pickup = int(rng.uniform(3 * MINUTE, 20 * MINUTE))
    review = int(rng.uniform(5 * MINUTE, 30 * MINUTE))
    merged = not_before + coding + pickup + review + int(rng.uniform(10 * MINUTE, 3 * HOUR))
    return {
        "kind": HOTFIX,
        "author": svc.team.members[int(rng.integers(len(svc.team.members)))],
        "created": merged - review - pickup,
        "first_review": merged - review,
        "merged": merged,
        "closed": merged,
        "first_authored": merged - review - pickup - coding,
        "n_commits": int(rng.integers(1, 3)),
        "squash": bool(rng.random() < svc.squash_share),
        "label": _LABEL_HOTFIX,
    }


# ------------------------------------------------------------------------------------------
# the main line and the deployment simulation


class _Mainline:
    """The first-parent history of `main`, as distinct commit times with what each commit is."""

    def __init__(self, times: np.ndarray, payloads: list[tuple[str, int]]) -> None:
        order = np.argsort(times, kind="stable")
        self.times: list[int] = _distinct(times[order]).tolist()
        self.payload: dict[int, tuple[str, int]] = {
            t: payloads[i] for t, i in zip(self.times, order.tolist(), strict=True)
        }

    def head_at(self, t: int) -> int:
        """Index of the `main` head at time `t`."""
        return bisect.bisect_right(self.times, t) - 1

    def insert(self, t: int, payload: tuple[str, int]) -> int:
        """Add a commit (a hotfix merge) at `t`, moved to a free second; returns its time."""
        while t in self.payload:
            t += 1
        bisect.insort(self.times, t)
        self.payload[t] = payload
        return t


@dataclass
class _Deployment:
    id: str
    environment: str
    revision: int  # main-line index
    started: int
    finished: int
    status: str
    rollback_of: str | None = None
    fix_for: str | None = None
    labels: tuple[str, ...] = ()


@dataclass
class _Incident:
    title: str
    opened: int
    resolved: int
    severity: str | None
    cause: str | None
    deployment_id: str | None = None
    commit_index: int = NULL  # main-line index of the commit the incident names


class _DeploySim:
    """Deploys one service's `main` head in batches, with failed attempts and bad releases.

    The wait from a change being merged to a deploy shrinks with the team's pace; a bad release
    (odds also tied to pace) gets a remedy: an explicit or implicit rollback, a hotfix PR and
    deploy, or only an incident. Revisions are main-line indices, so "strict ancestor" is "<".
    """

    def __init__(
        self, rng: np.random.Generator, win: _Window, svc: _Service, main: _Mainline
    ) -> None:
        self.rng, self.win, self.svc, self.main = rng, win, svc, main
        self.deployments: list[_Deployment] = []
        self.incidents: list[_Incident] = []
        self.hotfixes: list[dict[str, Any]] = []
        self.live: list[tuple[str, int]] = []  # successful production deploys: (id, revision)
        self.delivered = -1  # highest main-line index that has reached production

    def run(self) -> None:
        rng, win = self.rng, self.win
        # The first deploy is the baseline: it ships the history that predates the window.
        cursor = self._slot(_next_work_time(rng, win.start + int(rng.uniform(0, 2 * DAY))), False)
        while self.delivered + 1 < len(self.main.times):
            pending = max(self.main.times[self.delivered + 1], cursor)
            pace = self._pace(pending) * self.svc.deploy_speed
            t = pending + int(_lognormal(rng, 8 * HOUR * pace, 0.5))
            if pace > 0.5:  # fast teams deploy continuously; the others in working hours
                t = _next_work_time(rng, t)
            if t >= win.end - 2 * HOUR:
                break
            cursor = self._slot(t, True)
            if rng.random() < 0.03:  # a config-only redeploy of what is live
                t = _next_work_time(rng, cursor + int(rng.uniform(HOUR, 30 * HOUR)))
                if t < win.end - 2 * HOUR:
                    cursor = self._slot(t, True, revision=self.live[-1][1])

    def _pace(self, t: int) -> float:
        return _multiplier(self.svc.team.direction, float(self.win.frac(t)))

    def _emit(self, env: str, revision: int, start: int, status: str, **extra: Any) -> _Deployment:
        minutes = float(self.rng.lognormal(np.log(6.0), 0.4))
        if status == "cancelled":
            minutes *= 0.4
        dep = _Deployment(
            f"{self.svc.name}-{len(self.deployments) + 1:05d}",
            env,
            revision,
            start,
            start + int(minutes * MINUTE) + 1,
            status,
            **extra,
        )
        self.deployments.append(dep)
        return dep

    def _slot(self, t: int, allow_bad: bool, revision: int | None = None) -> int:
        """Deploy at `t` after staging and any failed attempts; returns when the next may start."""
        rng = self.rng
        head = self.main.head_at(t) if revision is None else revision
        if self.svc.staging and revision is None:
            status = "success" if rng.random() < 0.96 else "failure"
            self._emit("staging", head, t - int(rng.uniform(15 * MINUTE, 60 * MINUTE)), status)
        for _ in range(3):  # failed attempts, each retried with the same revision
            if rng.random() >= 0.07:
                break
            status = str(rng.choice(["failure", "cancelled", "error"], p=[0.6, 0.3, 0.1]))
            failed = self._emit(self.svc.prod_env, head, t, status)
            t = failed.finished + int(rng.uniform(10 * MINUTE, 45 * MINUTE))
        dep = self._emit(self.svc.prod_env, head, t, "success")
        before = self.delivered
        self.delivered = max(self.delivered, head)
        self.live.append((dep.id, head))
        p_bad = min(0.4, max(0.02, 0.13 * self._pace(t) ** 0.8))
        if allow_bad and len(self.live) > 3 and rng.random() < p_bad:
            return self._go_bad(dep, before)
        return dep.finished + 5 * MINUTE

    def _go_bad(self, bad: _Deployment, delivered_before: int) -> int:
        """Remedy a bad release; returns when the next ordinary deploy may start."""
        rng = self.rng
        remedy = str(
            rng.choice(["rollback", "implicit", "hotfix", "incident"], p=[0.28, 0.12, 0.35, 0.25])
        )
        target = next((r for _, r in reversed(self.live[:-1]) if r < bad.revision), None)
        if remedy in ("rollback", "implicit") and target is None:
            remedy = "hotfix"
        fix: _Deployment | None = None
        if remedy in ("rollback", "implicit") and target is not None:
            start = bad.finished + int(rng.uniform(10 * MINUTE, 2 * HOUR))
            if start < self.win.end - HOUR:
                rollback_of = bad.id if remedy == "rollback" else None
                fix = self._emit(
                    self.svc.prod_env, target, start, "success", rollback_of=rollback_of
                )
        elif remedy == "hotfix":
            fix = self._hotfix(bad)
        if fix is None:
            remedy = "incident"
        else:
            self.live.append((fix.id, fix.revision))
            self.delivered = max(self.delivered, fix.revision)
        p_incident = {"rollback": 0.5, "implicit": 0.4, "hotfix": 0.6, "incident": 1.0}[remedy]
        cursor = (fix.finished if fix else bad.finished) + 10 * MINUTE
        if rng.random() < p_incident:
            opened = self._change_incident(bad, fix, delivered_before)
            cursor = max(cursor, opened + 10 * MINUTE)
        return cursor

    def _hotfix(self, bad: _Deployment) -> _Deployment | None:
        rng = self.rng
        pr = _hotfix_pr(rng, self.svc, bad.finished)
        start = pr["merged"] + int(rng.uniform(8 * MINUTE, 40 * MINUTE))
        if start >= self.win.end - HOUR:
            return None
        pr["merged"] = pr["closed"] = self.main.insert(
            pr["merged"], ("pr", -1 - len(self.hotfixes))
        )
        self.hotfixes.append(pr)
        mode = rng.random()  # how the fix is marked: label and link, link only, or label only
        labels = ("hotfix",) if mode < 0.5 or mode >= 0.75 else ()
        fix_for = bad.id if mode < 0.75 else None
        head = self.main.head_at(start)
        return self._emit(self.svc.prod_env, head, start, "success", fix_for=fix_for, labels=labels)

    def _change_incident(
        self, bad: _Deployment, fix: _Deployment | None, delivered_before: int
    ) -> int:
        """An incident caused by `bad`, linked by deployment, by commit, or only by its time."""
        rng = self.rng
        if fix is None:
            opened = bad.finished + int(rng.uniform(5 * MINUTE, 60 * MINUTE))
            resolved = opened + int(_lognormal(rng, 3 * HOUR * self._pace(opened), 0.7))
        else:  # opened before the remedy lands, so time attribution still finds `bad`
            opened = bad.finished + int((fix.started - bad.finished) * rng.uniform(0.15, 0.8)) + 1
            resolved = fix.finished + int(rng.uniform(5 * MINUTE, 90 * MINUTE))
        link = str(rng.choice(["deployment", "commit", "time"], p=[0.4, 0.25, 0.35]))
        if link == "commit" and bad.revision <= delivered_before:
            link = "deployment"  # the release shipped no new commit to name
        incident = _Incident(
            title=f"{self.svc.name}: {rng.choice(['elevated 5xx', 'latency spike', 'bad data'])}"
            " after release",
            opened=opened,
            resolved=resolved,
            severity=str(rng.choice(["sev1", "sev2", "sev3"], p=[0.1, 0.35, 0.55])),
            cause=[None, "change", "unknown"][int(rng.choice(3, p=[0.08, 0.8, 0.12]))],
            deployment_id=bad.id if link == "deployment" else None,
        )
        if link == "commit":
            incident.commit_index = int(rng.integers(delivered_before + 1, bad.revision + 1))
        self.incidents.append(incident)
        return opened


_CAUSE_TITLES = {
    "infrastructure": (
        "database failover",
        "node pool exhausted",
        "disk full on primary",
        "certificate expired",
        "DNS resolution errors",
    ),
    "external": (
        "payment provider outage",
        "CDN degradation",
        "upstream API rate limiting",
        "cloud region network issues",
    ),
    "unknown": ("elevated error rate", "intermittent timeouts", "customer reports of failures"),
}


def _random_incidents(rng: np.random.Generator, win: _Window, svc: _Service) -> list[_Incident]:
    """Incidents not caused by a release: infrastructure, external, and some of unknown cause."""
    months = win.days / 30.4
    n = int(rng.poisson(0.85 * months))
    opened = np.sort(win.start + rng.integers(0, win.end - win.start, n))
    causes = rng.choice(4, size=n, p=[0.45, 0.3, 0.15, 0.1]).tolist()
    severities = rng.choice(4, size=n, p=[0.08, 0.3, 0.55, 0.07]).tolist()
    picks = rng.random(n).tolist()
    normals = rng.standard_normal(n).tolist()
    out = []
    for t, c, s, u, z in zip(opened.tolist(), causes, severities, picks, normals, strict=True):
        cause = ("infrastructure", "external", "unknown", None)[c]
        severity = ("sev1", "sev2", "sev3", None)[s]
        median = {"sev1": 1.0, "sev2": 2.0, "sev3": 4.0, None: 3.0}[severity] * HOUR
        titles = _CAUSE_TITLES[cause or "unknown"]
        duration = int(median * np.exp(0.9 * z))
        out.append(
            _Incident(
                f"{svc.name}: {titles[int(u * len(titles))]}",
                t,
                t + max(duration, 5 * MINUTE),
                severity,
                cause,
            )
        )
    return out


def _settle_incidents(
    rng: np.random.Generator, win: _Window, incidents: list[_Incident]
) -> list[_Incident]:
    """Leave some incidents open: many of the last week's, and a few older ones."""
    for incident, u in zip(incidents, rng.random(len(incidents)).tolist(), strict=True):
        recent = incident.opened > win.end - 7 * DAY
        if incident.resolved >= win.end or u < 0.015 or (recent and u < 0.4):
            incident.resolved = NULL
    return sorted(incidents, key=lambda i: i.opened)


# ------------------------------------------------------------------------------------------
# SLIs


_SEVERITY_IMPACT = {"sev1": 0.2, "sev2": 0.03, "sev3": 0.004, None: 0.01}


def _incident_impact(win: _Window, incidents: list[_Incident]) -> np.ndarray:
    """Per day of the window: Σ severity weight × share of the day each incident was open."""
    impact = np.zeros(win.days)
    for incident in incidents:
        # An unresolved incident is assumed mitigated within half a day for the SLI's sake.
        end = incident.resolved if incident.resolved != NULL else incident.opened + 12 * HOUR
        start, end = max(incident.opened, win.start), min(end, win.end)
        for day in range((start - win.start) // DAY, (end - 1 - win.start) // DAY + 1):
            lo = max(start, win.start + day * DAY)
            hi = min(end, win.start + (day + 1) * DAY)
            impact[day] += _SEVERITY_IMPACT[incident.severity] * max(hi - lo, 0) / DAY
    return impact
