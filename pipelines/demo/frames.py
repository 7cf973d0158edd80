"""The demo organisation as event tables: commits, pull requests with reviews, deployments,
incidents and SLI windows as polars frames in the event-file format (part of
`pipelines.demo.generator`).

Names with a leading underscore are private to the `pipelines.demo` package.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pipelines.demo.roster import (
    _DEPENDENCY_FILES,
    _DIRECT_MESSAGES,
    _MODULE_FILES,
    _MODULES,
    _OBJECTS,
    _REVIEW_BOTS,
    _VERBS,
    _WIP_MESSAGES,
    _Service,
)
from pipelines.demo.simulation import (
    _LABELS,
    BOT,
    DAY,
    HOTFIX,
    HOUR,
    HUMAN,
    MINUTE,
    NULL,
    _Deployment,
    _Incident,
    _incident_impact,
    _lognormal,
    _Mainline,
    _multiplier,
    _shas,
    _Window,
)

UTC_TS = pl.Datetime("us", "UTC")
STR_LIST = pl.List(pl.String)
REVIEW = pl.Struct({"author": pl.String, "submitted_at": UTC_TS, "state": pl.String})
_TZ_MINUTES = {"Z": 0, "+00:00": 0, "+02:00": 120, "-07:00": -420}


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
