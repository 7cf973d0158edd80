"""The demo organisation's roster: its shape, teams, people, services and SLOs, and the
words its commits and pull requests are made of (part of `pipelines.demo.generator`).

Names with a leading underscore are private to the `pipelines.demo` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

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
