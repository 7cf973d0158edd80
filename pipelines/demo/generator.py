"""A deterministic generator of a realistic demo organisation, in the event-file format.

`generate_org` simulates, per service, a year (or more) of engineering work: pull requests with
commits on side branches, merged as true merge commits or squashed onto `main`; direct pushes;
deployments of the `main` head with failed attempts, bad releases and their remedies (explicit
and implicit rollbacks, hotfixes); incidents of every cause; and daily SLI counts. Teams follow a
trend over the window (improving, flat or worsening) that moves lead time, deployment frequency
and change failure together, strongly enough for a 12-week Mann–Kendall test to see it.

Everything derives from `OrgShape.seed` through `numpy.random.default_rng` streams (one per
service, so services are independent of each other), never from the clock: the same shape gives
byte-identical files. All times are whole seconds since the epoch (UTC) until the frames are built.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

__all__ = ["OrgShape", "generate_org", "org_config", "team_trends", "write_demo"]

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NULL = -1  # sentinel for a missing time in the int64 arrays (every real time is > 0)

UTC_TS = pl.Datetime("us", "UTC")
STR_LIST = pl.List(pl.String)
REVIEW = pl.Struct({"author": pl.String, "submitted_at": UTC_TS, "state": pl.String})

# Log-units a team's pace multiplier travels over the window. Large on purpose: the weekly median
# lead time of a team with ~8 changes a week is noisy, and the trend must survive a 12-week test.
TREND_SPAN = 3.0
IMPROVING, FLAT, WORSENING = "improving", "flat", "worsening"
_DIRECTION = {IMPROVING: 1.0, FLAT: 0.0, WORSENING: -1.0}
_TREND_PATTERN = (IMPROVING, FLAT, WORSENING, IMPROVING, FLAT, FLAT)


def _phrases(text: str) -> tuple[str, ...]:
    """Comma-separated phrases of a multi-line string, as a tuple (keeps the lists compact)."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


_TEAM_NAMES = tuple(
    """
    payments checkout search identity platform mobile-api growth fraud catalog fulfilment
    messaging data pricing onboarding billing loyalty ads media maps reviews inventory
    shipping risk compliance analytics partners marketplace devex support-tools
    observability
""".split()
)
_CURATED_SERVICES = {
    "payments": ("payments-api", "ledger", "billing-worker"),
    "checkout": ("checkout-web", "cart", "promotions"),
    "search": ("search-api", "indexer", "recommendations"),
    "identity": ("auth", "user-profile"),
    "platform": ("api-gateway", "notifications"),
    "mobile-api": ("mobile-bff", "push-gateway"),
}
_SERVICE_SUFFIXES = ("api", "worker", "web", "events", "admin", "jobs", "gateway", "store")
_FIRST_NAMES = tuple(
    """
    alice bram chen dana emeka fatima goran hana ines jonas kofi lena mateo nadia oskar
    priya quinn rosa sven tara umar vera wei ximena yusuf zoe arjun bea carlos dmitri elif
    felix greta hugo ivy jamal kira luca maya nils
""".split()
)
_LAST_NAMES = tuple(
    """
    ng okafor silva berg kowalski haddad tanaka murphy rossi novak dubois khan meyer lopez
    andersen park costa ivanova osei larsen moreau sato fischer reyes nair walsh yilmaz
    schmidt bauer lund kim abara hughes varga popescu ortiz weber zhou mensah dahl
""".split()
)
_BOTS = ("renovate[bot]", "dependabot[bot]")
_REVIEW_BOTS = ("codecov[bot]", "github-actions[bot]")
# Commit-author offsets: most engineers on UTC, some in Europe and on the US west coast.
_PERSON_TZ = ("+00:00", "+02:00", "-07:00")
_PERSON_TZ_P = (0.6, 0.25, 0.15)
_TZ_MINUTES = {"Z": 0, "+00:00": 0, "+02:00": 120, "-07:00": -420}

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
_VERBS = ("Add", "Fix", "Refactor", "Remove", "Speed up", "Harden", "Tidy", "Document")
_OBJECTS = _phrases(
    """
    retry on timeout, pagination, cache invalidation, request validation, feature flag,
    metrics labels, error handling, rate limiting, config loading, database index,
    idempotency keys, audit log, health check, batch size, connection pool,
    currency rounding, webhook signature check, search ranking
"""
)
_WIP_MESSAGES = _phrases(
    """
    wip, fix tests, address review comments, fix lint, add tests, rename, handle edge case,
    update snapshot, simplify, typo
"""
)
_DIRECT_MESSAGES = _phrases(
    """
    chore: bump version, docs: update README, ci: pin action versions,
    chore: update CODEOWNERS, fix typo in config, chore: regenerate lockfile
"""
)
_MODULES = ("api", "core", "storage", "clients", "jobs", "metrics")
_MODULE_FILES = ("handlers", "models", "service", "errors", "config", "test_service")
_LANGUAGES = ("py", "go", "ts", "kt")
_DEPENDENCY_FILES = {
    "py": "uv.lock",
    "go": "go.sum",
    "ts": "package-lock.json",
    "kt": "gradle.lockfile",
}


# ------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True)
class OrgShape:
    """The size and seed of a generated organisation.

    The data covers `months` calendar months ending at `end` (exclusive, 00:00 UTC).
    `prs_per_service_week` is the scale knob: the average number of merged pull requests per
    service per week (each brings ~5 commits, a merge or squash commit, and a share of deploys).
    """

    teams: int = 6
    services: int = 15
    months: int = 12
    end: date = date(2026, 11, 23)
    seed: int = 7
    prs_per_service_week: float = 3.0


def generate_org(shape: OrgShape) -> dict[str, pl.DataFrame]:
    """Generate the organisation's event tables.

    Keys: `commits`, `pull_requests`, `deployments`, `incidents`, `sli`. Columns are exactly the
    event-file fields of SOURCES.md, timestamps `Datetime("us", "UTC")`, lists `List(String)`.
    """
    return {name: frame.drop(_tz_columns(frame)) for name, frame in _build(shape).items()}


def org_config(shape: OrgShape) -> dict[str, Any]:
    """The `dora.yaml` config (as a dict) that describes the generated organisation."""
    teams, services = _roster(shape)
    return {
        "warehouse": "data/dora.duckdb",
        "reports_dir": "reports",
        "production_environments": ["production", "prod"],
        "incident_attribution_window_hours": 168,
        "min_sample": 5,
        "teams": [
            {"name": t.name, "services": [s.name for s in services if s.team is t]} for t in teams
        ],
        "services": [{"name": s.name, "repo": s.repo} for s in services],
        "slos": [
            {"name": slo.name, "service": s.name, "objective": slo.objective}
            for s in services
            for slo in s.slos
        ],
        "sources": [{"kind": "files", "path": "events"}],
    }


def team_trends(shape: OrgShape) -> dict[str, str]:
    """Which way each team's delivery moves over the window: improving, flat or worsening."""
    teams, _ = _roster(shape)
    return {t.name: t.trend for t in teams}


def write_demo(out_dir: Path, shape: OrgShape = OrgShape()) -> Path:
    """Write the demo: `out_dir/events/*.jsonl`, `out_dir/events/sli.csv` and `out_dir/dora.yaml`.

    Timestamps are written as ISO 8601 with an offset, in a mix of offsets (`Z`, `+00:00`,
    `+02:00`, `-07:00`) so readers must convert to UTC. Returns the config file's path.
    """
    out_dir = Path(out_dir)
    events = out_dir / "events"
    events.mkdir(parents=True, exist_ok=True)
    frames = _build(shape)
    for name in ("commits", "pull_requests", "deployments", "incidents"):
        _render(frames[name]).write_ndjson(events / f"{name}.jsonl")
    _render(frames["sli"]).write_csv(events / "sli.csv")
    config_path = out_dir / "dora.yaml"
    config_path.write_text(yaml.safe_dump(org_config(shape), sort_keys=False), encoding="utf-8")
    return config_path


# ------------------------------------------------------------------------------------------
# roster: teams, people, services, SLOs


@dataclass(frozen=True)
class _Team:
    name: str
    trend: str
    members: tuple[str, ...]
    tz: dict[str, str]  # member -> commit offset

    @property
    def direction(self) -> float:
        return _DIRECTION[self.trend]


@dataclass(frozen=True)
class _Slo:
    name: str
    objective: float
    first_day: int  # days after the window start when the SLO began reporting
    tz: str


@dataclass(frozen=True)
class _Service:
    index: int
    name: str
    repo: str
    team: _Team
    activity: float  # PR-rate multiplier, mean 1 over the org
    speed: float  # review/coding pace multiplier
    deploy_speed: float  # wait-before-deploy multiplier
    squash_share: float  # share of PRs squash-merged (the rest get merge commits)
    prod_env: str
    staging: bool
    deploy_tz: str
    traffic: float  # requests per weekday
    language: str
    slos: tuple[_Slo, ...]


def _roster(shape: OrgShape) -> tuple[list[_Team], list[_Service]]:
    """Teams with members and a trend, and services spread over them round-robin."""
    if shape.teams < 1 or shape.services < shape.teams:
        raise ValueError("need at least one team and at least one service per team")
    rng = np.random.default_rng([shape.seed, 0])
    counts = [
        shape.services // shape.teams + (i < shape.services % shape.teams)
        for i in range(shape.teams)
    ]
    teams: list[_Team] = []
    person = 0
    for i, count in enumerate(counts):
        size = int(min(12, max(4, 3 + 2 * count)))
        members = tuple(_person_name(person + k) for k in range(size))
        person += size
        tz = {m: str(rng.choice(_PERSON_TZ, p=_PERSON_TZ_P)) for m in members}
        trend = _TREND_PATTERN[i % len(_TREND_PATTERN)]
        teams.append(_Team(_team_name(i), trend, members, tz))
    activity = rng.lognormal(0.0, 0.35, shape.services)
    activity /= activity.mean()
    services: list[_Service] = []
    taken: set[str] = set()
    for team, count in zip(teams, counts, strict=True):
        for k in range(count):
            name = _service_name(team.name, k, taken)
            services.append(
                _service(rng, len(services), name, team, float(activity[len(services)]))
            )
    return teams, services


def _service(
    rng: np.random.Generator, index: int, name: str, team: _Team, activity: float
) -> _Service:
    """One service's personality: pace, merge style, environments, traffic and SLOs."""
    slos = [
        _Slo(
            f"{name}-availability",
            float(rng.choice([0.999, 0.995, 0.99])),
            0,
            str(rng.choice(["Z", "+00:00"], p=[0.8, 0.2])),
        )
    ]
    if rng.random() < 0.5:
        # Some latency SLOs were introduced during the year, so `slos_total` changes over time.
        first_day = int(rng.integers(30, 150)) if rng.random() < 0.4 else 0
        slos.append(_Slo(f"{name}-latency", float(rng.choice([0.99, 0.995])), first_day, "Z"))
    return _Service(
        index=index,
        name=name,
        repo=f"acme/{name}",
        team=team,
        activity=activity,
        speed=float(rng.lognormal(0.0, 0.2)),
        deploy_speed=float(rng.lognormal(0.0, 0.3)),
        squash_share=float(rng.choice([0.0, 0.2, 0.6, 1.0])),
        prod_env="prod" if rng.random() < 0.2 else "production",
        staging=bool(rng.random() < 0.6),
        deploy_tz=str(rng.choice(["Z", "+00:00", "+02:00"], p=[0.7, 0.2, 0.1])),
        traffic=float(10 ** rng.uniform(4.0, 6.3)),
        language=str(rng.choice(_LANGUAGES)),
        slos=tuple(slos),
    )


def _team_name(i: int) -> str:
    base = _TEAM_NAMES[i % len(_TEAM_NAMES)]
    return base if i < len(_TEAM_NAMES) else f"{base}-{i // len(_TEAM_NAMES) + 1}"


def _service_name(team: str, k: int, taken: set[str]) -> str:
    curated = _CURATED_SERVICES.get(team, ())
    name = curated[k] if k < len(curated) else f"{team}-{_SERVICE_SUFFIXES[k % 8]}"
    if k >= len(_SERVICE_SUFFIXES) and k >= len(curated):
        name = f"{name}-{k // len(_SERVICE_SUFFIXES) + 1}"
    while name in taken:  # only reachable with unusual shapes; keeps names unique
        name += "-x"
    taken.add(name)
    return name


def _person_name(k: int) -> str:
    # (k % 40, (k // 40 + 3k) % 40) is a bijection on 0..1599, so logins stay unique.
    n = len(_FIRST_NAMES)
    first = _FIRST_NAMES[k % n]
    last = _LAST_NAMES[(k // n + 3 * k) % n]
    suffix = "" if k < n * n else str(k // (n * n))
    return f"{first}.{last}{suffix}"


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


# ------------------------------------------------------------------------------------------
# one service end to end


def _simulate_service(shape: OrgShape, win: _Window, svc: _Service) -> dict[str, pl.DataFrame]:
    """All event records of one service (and its repo)."""
    rng = np.random.default_rng([shape.seed, 1, svc.index])
    merged = _plan_merged_prs(rng, win, svc, shape)
    unmerged = _plan_unmerged_prs(rng, win, svc, merged["merged"].size)
    history = np.sort(win.start - rng.integers(HOUR, 150 * DAY, int(rng.integers(30, 80))))
    bare = _sample_work_times(
        rng, win, int(rng.poisson(0.06 * merged["merged"].size)), _day_weights(win)
    )
    main = _Mainline(
        np.concatenate([history, bare, merged["merged"]]),
        [("history", i) for i in range(history.size)]
        + [("bare", i) for i in range(bare.size)]
        + [("pr", i) for i in range(merged["merged"].size)],
    )
    sim = _DeploySim(rng, win, svc, main)
    sim.run()
    prs, kinds = _settle_prs(merged, unmerged, sim.hotfixes, main)
    titles = _titles(prs)
    numbers = _pr_numbers(rng, prs)
    main_sha = _shas(rng, len(kinds))
    pr_commits = _pr_commits(rng, win, svc, prs, titles, main, main_sha)
    commits = _main_commits(rng, svc, main, kinds, main_sha, prs, titles, numbers, pr_commits)
    incidents = _settle_incidents(rng, win, sim.incidents + _random_incidents(rng, win, svc))
    return {
        "commits": pl.concat([commits, pr_commits["frame"]]),
        "pull_requests": _pr_frame(
            rng, win, svc, prs, titles, numbers, kinds, main_sha, pr_commits
        ),
        "deployments": _deployment_frame(rng, svc, sim.deployments, main_sha),
        "incidents": _incident_frame(rng, svc, incidents, main_sha),
        "sli": _sli_frame(rng, win, svc, incidents),
    }


def _settle_prs(
    merged: dict[str, np.ndarray],
    unmerged: dict[str, np.ndarray],
    hotfixes: list[dict[str, Any]],
    main: _Mainline,
) -> tuple[dict[str, np.ndarray], list[tuple[str, int]]]:
    """All PR rows (merged, unmerged, hotfix) and `main`'s (kind, row) per main-line index.

    Merge times are taken back from the main line, where a clash may have moved one a second.
    """
    parts = [merged, unmerged]
    if hotfixes:
        parts.append(
            {k: np.asarray([h[k] for h in hotfixes], dtype=v.dtype) for k, v in merged.items()}
        )
    prs = _concat_prs(parts)
    # Hotfix PRs were referenced as ("pr", -1 - k) while their rows did not exist yet.
    first_hotfix = merged["merged"].size + unmerged["merged"].size
    kinds = []
    for t in main.times:
        kind, ref = main.payload[t]
        if kind == "pr":
            ref = ref if ref >= 0 else first_hotfix - 1 - ref
            prs["merged"][ref] = prs["closed"][ref] = t
        kinds.append((kind, ref))
    return prs, kinds


# ------------------------------------------------------------------------------------------
# commits


def _files(rng: np.random.Generator, pool: list[str], n: int) -> list[list[str]]:
    """Changed paths per commit: 1–4 distinct paths from the repo's pool (a prime-sized ring)."""
    count = np.minimum(rng.geometric(0.5, n), 4).tolist()
    start = rng.integers(0, len(pool), n).tolist()
    stride = rng.integers(1, len(pool), n).tolist()
    size = len(pool)
    return [
        [pool[(s + j * d) % size] for j in range(k)]
        for k, s, d in zip(count, start, stride, strict=True)
    ]


def _file_pool(svc: _Service) -> list[str]:
    ext = svc.language
    paths = [f"src/{m}/{f}.{ext}" for m in _MODULES for f in _MODULE_FILES]
    return [*paths, "README.md"]  # 37 paths: prime, so every stride visits distinct paths


def _pr_commits(
    rng: np.random.Generator,
    win: _Window,
    svc: _Service,
    prs: dict[str, np.ndarray],
    titles: list[str],
    main: _Mainline,
    main_sha: list[str],
) -> dict[str, Any]:
    """Each PR's commits on a side branch from the `main` head at the time it branched.

    Commit times spread from the PR's first author time to shortly before it was merged (or
    closed); a fifth of merged PRs were rebased just before merging, which resets committer
    times and the branch point but keeps author times.
    """
    n = prs["n_commits"].astype(np.int64)
    total = int(n.sum())
    pr_of = np.repeat(np.arange(n.size), n)
    offsets = np.concatenate([[0], np.cumsum(n)])
    first = np.zeros(total, dtype=bool)
    first[offsets[:-1]] = True
    merged = prs["merged"]
    end_of_work = np.where(
        merged != NULL,
        merged,
        np.where(
            prs["closed"] != NULL, prs["closed"], np.minimum(win.end, prs["created"] + 5 * DAY)
        ),
    )
    last_allowed = np.maximum(end_of_work - 10 * MINUTE, prs["first_authored"])
    u = np.where(first, 0.0, rng.random(total))
    u = np.sort(pr_of + u) - pr_of  # sorted within each PR, first stays at 0
    span = (last_allowed - prs["first_authored"])[pr_of]
    authored = prs["first_authored"][pr_of] + (u * span).astype(np.int64)
    limit = np.where(merged != NULL, merged - 30, end_of_work - 30)[pr_of]
    committed = np.maximum(
        authored, np.minimum(authored + rng.exponential(8 * MINUTE, total).astype(np.int64), limit)
    )
    # Rebased PRs: one committer time just after the last author time, before the merge.
    rebased = (merged != NULL) & (rng.random(n.size) < 0.2) & (n < 30)
    last_auth = authored[offsets[1:] - 1]
    rebase_at = np.clip(
        merged - rng.uniform(5 * MINUTE, 3 * HOUR, n.size).astype(np.int64),
        last_auth + 60,
        merged - 60 - n,
    )
    pos = np.arange(total) - offsets[:-1][pr_of]
    committed = np.where(rebased[pr_of], np.maximum(rebase_at[pr_of] + pos, authored), committed)
    # A child is never committed before its parent: running maximum within each PR.
    shift = pr_of.astype(np.int64) << 34  # > any epoch second, keeps PRs apart
    committed = np.maximum.accumulate(committed + shift) - shift
    branch_from = np.maximum(np.searchsorted(main.times, committed[first], side="right") - 1, 0)
    shas = _shas(rng, total)
    parents = [[main_sha[b]] for b in branch_from.tolist()]
    chain = [[s] for s in shas]
    parent_lists = [
        parents[p] if f else chain[i - 1]
        for i, (p, f) in enumerate(zip(pr_of.tolist(), first.tolist(), strict=True))
    ]
    authors = prs["author"][pr_of].tolist()
    messages = _pr_commit_messages(rng, titles, pr_of, first)
    files = _files(rng, _file_pool(svc), total)
    bot_files = [_DEPENDENCY_FILES[svc.language]]
    files = [
        bot_files if k == BOT else f
        for k, f in zip(prs["kind"][pr_of].tolist(), files, strict=True)
    ]
    frame = _commit_frame(
        svc,
        shas,
        parent_lists,
        authored,
        committed,
        authors,
        messages,
        files,
        [svc.team.tz.get(a, "Z") for a in authors],
        None,
    )
    return {"frame": frame, "shas": shas, "files": files, "offsets": offsets.tolist()}


def _pr_commit_messages(
    rng: np.random.Generator, titles: list[str], pr_of: np.ndarray, first: np.ndarray
) -> list[str]:
    """The first commit of a PR carries its title; later ones are the usual fix-ups."""
    wip = np.asarray(_WIP_MESSAGES, dtype=object)[rng.integers(0, len(_WIP_MESSAGES), pr_of.size)]
    return [
        titles[p] if f else w
        for p, f, w in zip(pr_of.tolist(), first.tolist(), wip.tolist(), strict=True)
    ]


def _titles(prs: dict[str, np.ndarray]) -> list[str]:
    """Deterministic PR titles from the row's own numbers (no extra random draws)."""
    out = []
    for kind, created, label in zip(
        prs["kind"].tolist(), prs["created"].tolist(), prs["label"].tolist(), strict=True
    ):
        obj = _OBJECTS[created % len(_OBJECTS)]
        if kind == BOT:
            out.append(f"chore(deps): update dependency {obj.split()[0]} to v{created % 9 + 1}")
        elif kind == HOTFIX:
            out.append(f"Hotfix: revert {obj} change")
        else:
            verb = "Fix" if label == 1 else _VERBS[(created // 7) % len(_VERBS)]
            out.append(f"{verb} {obj}")
    return out


def _main_commits(
    rng: np.random.Generator,
    svc: _Service,
    main: _Mainline,
    kinds: list[tuple[str, int]],
    main_sha: list[str],
    prs: dict[str, np.ndarray],
    titles: list[str],
    numbers: np.ndarray,
    pr_commits: dict[str, Any],
) -> pl.DataFrame:
    """`main`'s own commits: history, direct pushes, merge commits and squash commits."""
    members = svc.team.members
    pool = _file_pool(svc)
    offsets, shas, files = pr_commits["offsets"], pr_commits["shas"], pr_commits["files"]
    n = len(kinds)
    authored = np.asarray(main.times, dtype=np.int64).copy()
    direct_files = _files(rng, pool, n)
    direct_authors = [members[i] for i in rng.integers(0, len(members), n).tolist()]
    # A direct push is written minutes to days before it is pushed.
    lead = _lognormal(rng, 2 * HOUR, 1.2, n).astype(np.int64)
    parents, authors, messages, file_lists, tz_committed = [], [], [], [], []
    for i, (kind, ref) in enumerate(kinds):
        parents.append([main_sha[i - 1]] if i else [])
        if kind == "pr":
            a, b = offsets[ref], offsets[ref + 1]
            authors.append(prs["author"][ref])
            file_lists.append(list(dict.fromkeys(f for fl in files[a:b] for f in fl)))
            tz_committed.append("Z")  # written by GitHub
            if prs["squash"][ref]:
                messages.append(f"{titles[ref]} (#{numbers[ref]})")
            else:
                parents[-1].append(shas[b - 1])
                messages.append(
                    f"Merge pull request #{numbers[ref]} from acme/{_branch(prs, ref, numbers)}"
                )
        else:
            authored[i] -= lead[i]
            authors.append(direct_authors[i])
            file_lists.append(direct_files[i])
            messages.append(
                _DIRECT_MESSAGES[i % len(_DIRECT_MESSAGES)]
                if kind == "bare"
                else f"{_VERBS[i % len(_VERBS)]} {_OBJECTS[i % len(_OBJECTS)]}"
            )
            tz_committed.append(svc.team.tz.get(authors[-1], "Z"))
    tz_authored = [svc.team.tz.get(a, "Z") for a in authors]
    return _commit_frame(
        svc,
        main_sha,
        parents,
        authored,
        np.asarray(main.times),
        authors,
        messages,
        file_lists,
        tz_authored,
        tz_committed,
    )


def _branch(prs: dict[str, np.ndarray], ref: int, numbers: np.ndarray) -> str:
    author = str(prs["author"][ref]).removesuffix("[bot]")
    kind = {HUMAN: "feature", BOT: "deps", HOTFIX: "hotfix"}[int(prs["kind"][ref])]
    return f"{author}/{kind}-{numbers[ref]}"


def _pr_numbers(rng: np.random.Generator, prs: dict[str, np.ndarray]) -> np.ndarray:
    """PR numbers in creation order, continuing from the repo's earlier history."""
    base = int(rng.integers(20, 400))
    order = np.argsort(prs["created"], kind="stable")
    numbers = np.empty(order.size, dtype=np.int64)
    numbers[order] = base + np.arange(order.size)
    return numbers


def _commit_frame(
    svc: _Service,
    shas: list[str],
    parents: list[list[str]],
    authored: np.ndarray,
    committed: np.ndarray,
    authors: list[str],
    messages: list[str],
    files: list[list[str]],
    tz_authored: list[str],
    tz_committed: list[str] | None,
) -> pl.DataFrame:
    n = len(shas)
    return pl.DataFrame(
        {
            "repo": pl.Series([svc.repo] * n, dtype=pl.String),
            "sha": pl.Series(shas, dtype=pl.String),
            "parents": _str_lists(parents),
            "authored_at": _ts(authored),
            "committed_at": _ts(committed),
            "author": pl.Series(authors, dtype=pl.String),
            "message": pl.Series(messages, dtype=pl.String),
            "files": _str_lists(files),
            "_tz_authored_at": pl.Series(tz_authored, dtype=pl.String),
            "_tz_committed_at": pl.Series(
                tz_committed if tz_committed is not None else tz_authored, dtype=pl.String
            ),
        }
    )


def _str_lists(items: list[list[str]] | list[tuple[str, ...]]) -> pl.Series:
    """A `List(String)` series from Python lists.

    Joined and split in polars: building a list column element by element costs a Python
    round trip per row, which dominates at a million commits.
    """
    sep = "\x1f"  # ASCII unit separator: never part of a sha, path or label
    joined = pl.Series([sep.join(x) for x in items], dtype=pl.String)
    empty = [not x for x in items]
    if not any(empty):
        return joined.str.split(sep)
    return pl.select(
        pl.when(pl.Series(empty, dtype=pl.Boolean))
        .then(pl.lit([], dtype=STR_LIST))
        .otherwise(joined.str.split(sep))
    ).to_series()


def _ts(seconds: Any) -> pl.Series:
    """int64 epoch seconds (NULL = missing) as a UTC microsecond timestamp series."""
    arr = np.asarray(seconds, dtype=np.int64)
    micros = pl.Series(arr * 1_000_000, dtype=pl.Int64)
    missing = arr == NULL
    if missing.any():
        micros = micros.scatter(np.flatnonzero(missing), None)
    return micros.cast(UTC_TS)


# ------------------------------------------------------------------------------------------
# pull requests and reviews


def _pr_frame(
    rng: np.random.Generator,
    win: _Window,
    svc: _Service,
    prs: dict[str, np.ndarray],
    titles: list[str],
    numbers: np.ndarray,
    kinds: list[tuple[str, int]],
    main_sha: list[str],
    pr_commits: dict[str, Any],
) -> pl.DataFrame:
    n = prs["created"].size
    merge_sha: list[str | None] = [None] * n
    for index, (kind, ref) in enumerate(kinds):
        if kind == "pr":
            merge_sha[ref] = main_sha[index]
    offsets, shas = pr_commits["offsets"], pr_commits["shas"]
    kind = prs["kind"].tolist()
    frame = pl.DataFrame(
        {
            "_row": pl.Series(np.arange(n), dtype=pl.Int64),
            "repo": pl.Series([svc.repo] * n, dtype=pl.String),
            "number": pl.Series(numbers, dtype=pl.Int64),
            "title": pl.Series(titles, dtype=pl.String),
            "author": pl.Series(prs["author"].tolist(), dtype=pl.String),
            "author_is_bot": pl.Series([k == BOT for k in kind], dtype=pl.Boolean),
            "created_at": _ts(prs["created"]),
            "merged_at": _ts(prs["merged"]),
            "closed_at": _ts(prs["closed"]),
            "base_branch": pl.Series(["main"] * n, dtype=pl.String),
            "merge_commit_sha": pl.Series(merge_sha, dtype=pl.String),
            "commit_shas": _str_lists([shas[offsets[p] : offsets[p + 1]] for p in range(n)]),
            "labels": _str_lists([_LABELS[k] for k in prs["label"].tolist()]),
        }
    )
    reviews = _reviews(rng, win, svc, prs)
    return (
        frame.join(reviews, on="_row", how="left", maintain_order="left")
        .with_columns(pl.col("reviews").fill_null(pl.lit([], dtype=pl.List(REVIEW))))
        .select(
            "repo",
            "number",
            "title",
            "author",
            "author_is_bot",
            "created_at",
            "merged_at",
            "closed_at",
            "base_branch",
            "merge_commit_sha",
            "commit_shas",
            "reviews",
            "labels",
        )
    )


def _reviews(
    rng: np.random.Generator, win: _Window, svc: _Service, prs: dict[str, np.ndarray]
) -> pl.DataFrame:
    """Reviews per PR row, as a `_row` → `reviews` frame.

    Merged PRs get 1–3 teammate reviews, the first at `first_review`, the last an approval;
    some also get an early comment from a CI bot or their own author, which must not count
    as the pickup. Unmerged PRs get a few comments or change requests.
    """
    members = svc.team.members
    seat = {m: i for i, m in enumerate(members)}
    n = prs["created"].size
    draws = rng.random((n, 10)).tolist()  # drawn up front: one generator call, not thousands
    rows: list[int] = []
    authors: list[str] = []
    times: list[int] = []
    states: list[str] = []

    def add(row: int, author: str, t: int, state: str) -> None:
        rows.append(row)
        authors.append(author)
        times.append(t)
        states.append(state)

    def teammate(author: str, u: float) -> str:
        # A uniform pick among the members other than the author.
        others = len(members) - (author in seat)
        i = min(int(u * others), others - 1)
        return members[i + 1] if author in seat and i >= seat[author] else members[i]

    for p, u in enumerate(draws):
        author, created = str(prs["author"][p]), int(prs["created"][p])
        merged, closed = int(prs["merged"][p]), int(prs["closed"][p])
        end = merged if merged != NULL else (closed if closed != NULL else win.end)
        # Early noise lands before the first teammate review (for unmerged PRs, before the end).
        quiet = (int(prs["first_review"][p]) if merged != NULL else end) - created
        if u[0] < 0.35 and int(prs["kind"][p]) != BOT and quiet > 0:
            t = created + min(int(2 * MINUTE + u[1] * 6 * MINUTE), int(quiet * 0.4))
            add(p, _REVIEW_BOTS[int(u[2] * 2)], t, "COMMENTED")
        if u[3] < 0.1 and author in seat and quiet > 0:
            add(p, author, created + min(int(u[4] * 20 * MINUTE), int(quiet * 0.8)), "COMMENTED")
        if merged != NULL:
            first = int(prs["first_review"][p])
            count = 1 + (u[5] < 0.45) + (u[6] < 0.15)
            for k in range(count):
                last = k == count - 1
                t = first + int((merged - 60 - first) * k / count * (0.5 + 0.5 * u[7]))
                state = (
                    "APPROVED" if last else ("CHANGES_REQUESTED" if u[8] < 0.35 else "COMMENTED")
                )
                add(p, teammate(author, (u[9] + 0.37 * k) % 1.0), max(t, first), state)
        else:
            for k in range(int(u[5] * 3) if closed != NULL else int(u[5] * 2)):
                t = created + int((end - created) * (k + u[6]) / 3)
                state = "CHANGES_REQUESTED" if u[8] < 0.5 else "COMMENTED"
                add(p, teammate(author, (u[9] + 0.37 * k) % 1.0), t, state)
    flat = pl.DataFrame(
        {
            "_row": pl.Series(rows, dtype=pl.Int64),
            "author": pl.Series(authors, dtype=pl.String),
            "submitted_at": _ts(times),
            "state": pl.Series(states, dtype=pl.String),
        }
    )
    return (
        flat.sort("_row", "submitted_at", maintain_order=True)
        .group_by("_row", maintain_order=True)
        .agg(pl.struct("author", "submitted_at", "state").alias("reviews"))
    )


# ------------------------------------------------------------------------------------------
# deployments and incidents


def _deployment_frame(
    rng: np.random.Generator, svc: _Service, deployments: list[_Deployment], main_sha: list[str]
) -> pl.DataFrame:
    n = len(deployments)
    # A few deploy tools do not report a start time.
    started = [
        NULL if u < 0.02 else d.started
        for d, u in zip(deployments, rng.random(n).tolist(), strict=True)
    ]
    return pl.DataFrame(
        {
            "id": pl.Series([d.id for d in deployments], dtype=pl.String),
            "service": pl.Series([svc.name] * n, dtype=pl.String),
            "environment": pl.Series([d.environment for d in deployments], dtype=pl.String),
            "revision": pl.Series([main_sha[d.revision] for d in deployments], dtype=pl.String),
            "started_at": _ts(started),
            "finished_at": _ts([d.finished for d in deployments]),
            "status": pl.Series([d.status for d in deployments], dtype=pl.String),
            "rollback_of": pl.Series([d.rollback_of for d in deployments], dtype=pl.String),
            "fix_for": pl.Series([d.fix_for for d in deployments], dtype=pl.String),
            "labels": _str_lists([d.labels for d in deployments]),
            "_tz_started_at": pl.Series([svc.deploy_tz] * n, dtype=pl.String),
            "_tz_finished_at": pl.Series([svc.deploy_tz] * n, dtype=pl.String),
        }
    )


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
    draws = rng.random((n, 2)).tolist()
    out = []
    for t, c, s, u in zip(opened.tolist(), causes, severities, draws, strict=True):
        cause = ("infrastructure", "external", "unknown", None)[c]
        severity = ("sev1", "sev2", "sev3", None)[s]
        median = {"sev1": 1.0, "sev2": 2.0, "sev3": 4.0, None: 3.0}[severity] * HOUR
        titles = _CAUSE_TITLES[cause or "unknown"]
        duration = int(median * np.exp(0.9 * _normal(u[0], u[1])))
        out.append(
            _Incident(
                f"{svc.name}: {titles[int(u[1] * len(titles))]}",
                t,
                t + max(duration, 5 * MINUTE),
                severity,
                cause,
            )
        )
    return out


def _normal(u1: float, u2: float) -> float:
    """A standard normal from two uniforms (Box–Muller), so a block of draws serves a loop."""
    return float(np.sqrt(-2.0 * np.log(max(u1, 1e-12))) * np.cos(2.0 * np.pi * u2))


def _settle_incidents(
    rng: np.random.Generator, win: _Window, incidents: list[_Incident]
) -> list[_Incident]:
    """Leave some incidents open: many of the last week's, and a few older ones."""
    for incident, u in zip(incidents, rng.random(len(incidents)).tolist(), strict=True):
        recent = incident.opened > win.end - 7 * DAY
        if incident.resolved >= win.end or u < 0.015 or (recent and u < 0.4):
            incident.resolved = NULL
    return sorted(incidents, key=lambda i: i.opened)


def _incident_frame(
    rng: np.random.Generator, svc: _Service, incidents: list[_Incident], main_sha: list[str]
) -> pl.DataFrame:
    n = len(incidents)
    # The paging tool reports in the responder's local time.
    tz = rng.choice(["Z", "+02:00", "-07:00"], size=n, p=[0.6, 0.25, 0.15]).tolist()
    return pl.DataFrame(
        {
            "id": pl.Series([None] * n, dtype=pl.String),  # numbered org-wide once all are known
            "service": pl.Series([svc.name] * n, dtype=pl.String),
            "title": pl.Series([i.title for i in incidents], dtype=pl.String),
            "opened_at": _ts([i.opened for i in incidents]),
            "resolved_at": _ts([i.resolved for i in incidents]),
            "severity": pl.Series([i.severity for i in incidents], dtype=pl.String),
            "cause": pl.Series([i.cause for i in incidents], dtype=pl.String),
            "deployment_id": pl.Series([i.deployment_id for i in incidents], dtype=pl.String),
            "commit_sha": pl.Series(
                [main_sha[i.commit_index] if i.commit_index != NULL else None for i in incidents],
                dtype=pl.String,
            ),
            "_tz_opened_at": pl.Series(tz, dtype=pl.String),
            "_tz_resolved_at": pl.Series(tz, dtype=pl.String),
        }
    )


# ------------------------------------------------------------------------------------------
# SLIs


_SEVERITY_IMPACT = {"sev1": 0.2, "sev2": 0.03, "sev3": 0.004, None: 0.01}


def _sli_frame(
    rng: np.random.Generator, win: _Window, svc: _Service, incidents: list[_Incident]
) -> pl.DataFrame:
    """Daily good/total counts per SLO: a baseline error rate that follows the team's pace,
    plus the share of each day an incident was open, weighted by severity."""
    impact = _incident_impact(win, incidents)
    frames = []
    for slo in svc.slos:
        days = np.arange(slo.first_day, win.days)
        starts = win.start + days * DAY
        weekday = (starts // DAY + 3) % 7 < 5
        frac = win.frac(starts)
        volume = svc.traffic * np.where(weekday, 1.0, 0.6) * (1 + 0.2 * frac)
        total = np.maximum(1, _lognormal(rng, volume, 0.08)).astype(np.int64)
        pace = _multiplier(svc.team.direction, frac) * svc.speed
        base = (1 - slo.objective) * 0.35 * pace**0.7 * rng.lognormal(0.0, 0.5, days.size)
        share = 1.0 if slo.name.endswith("availability") else 0.5
        bad = np.clip(base + share * impact[days], 0.0, 1.0)
        good = total - np.rint(total * bad).astype(np.int64)
        frames.append(
            pl.DataFrame(
                {
                    "slo": pl.Series([slo.name] * days.size, dtype=pl.String),
                    "window_start": _ts(starts),
                    "window_end": _ts(starts + DAY),
                    "good": pl.Series(good, dtype=pl.Int64),
                    "total": pl.Series(total, dtype=pl.Int64),
                    "_tz_window_start": pl.Series([slo.tz] * days.size, dtype=pl.String),
                    "_tz_window_end": pl.Series([slo.tz] * days.size, dtype=pl.String),
                }
            )
        )
    return pl.concat(frames)


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


# ------------------------------------------------------------------------------------------
# the whole organisation, and writing it out


def _build(shape: OrgShape) -> dict[str, pl.DataFrame]:
    """All tables, each with hidden `_tz_<column>` offsets used when writing files."""
    _, services = _roster(shape)
    win = _window(shape)
    parts = [_simulate_service(shape, win, svc) for svc in services]
    tables = {name: pl.concat([p[name] for p in parts]) for name in parts[0]}
    incidents = tables["incidents"].sort("opened_at", "service", maintain_order=True)
    incidents = incidents.with_columns(
        id=pl.format("INC-{}", pl.int_range(1, incidents.height + 1).cast(pl.String).str.zfill(5))
    )
    return {
        "commits": tables["commits"].sort("repo", "committed_at", "sha"),
        "pull_requests": tables["pull_requests"].sort("repo", "number"),
        "deployments": tables["deployments"].sort("finished_at", "id"),
        "incidents": incidents,
        "sli": tables["sli"].sort("slo", "window_start"),
    }


def _tz_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("_tz_")]


def _render(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as ISO 8601 text in each row's own offset (default `Z`); reviews in UTC."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == UTC_TS:
            tz = pl.col(f"_tz_{name}") if f"_tz_{name}" in frame.columns else pl.lit("Z")
            minutes = tz.replace_strict(_TZ_MINUTES, return_dtype=pl.Int64)
            local = pl.col(name).dt.replace_time_zone(None) + pl.duration(minutes=minutes)
            exprs.append(pl.concat_str([local.dt.strftime("%Y-%m-%dT%H:%M:%S"), tz]).alias(name))
        elif dtype == pl.List(REVIEW):
            stamp = pl.field("submitted_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            exprs.append(pl.col(name).list.eval(pl.element().struct.with_fields(stamp)))
    return frame.with_columns(exprs).drop(_tz_columns(frame))
