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

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from pipelines.demo.frames import (
    _deployment_frame,
    _incident_frame,
    _main_commits,
    _pr_commits,
    _pr_frame,
    _pr_numbers,
    _render,
    _sli_frame,
    _titles,
    _tz_columns,
)
from pipelines.demo.roster import (
    OrgShape,
    _roster,
    _Service,
)
from pipelines.demo.simulation import (
    DAY,
    HOUR,
    _concat_prs,
    _day_weights,
    _DeploySim,
    _Mainline,
    _plan_merged_prs,
    _plan_unmerged_prs,
    _random_incidents,
    _sample_work_times,
    _settle_incidents,
    _shas,
    _Window,
    _window,
)
from pipelines.unchanged import SETTLED_NS

__all__ = ["OrgShape", "generate_org", "org_config", "team_trends", "write_demo"]

DEFAULT_SHAPE = OrgShape()


def generate_org(shape: OrgShape) -> dict[str, pl.DataFrame]:
    """Generate the organisation's event tables.

    Keys: `commits`, `pull_requests`, `deployments`, `incidents`, `sli`. Columns are exactly the
    event-file fields of docs/config.md, timestamps `Datetime("us", "UTC")`, lists `List(String)`.
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


JSONL = ("commits", "pull_requests", "deployments", "incidents")


def write_demo(out_dir: Path, shape: OrgShape = DEFAULT_SHAPE) -> Path:
    """Write the demo: `out_dir/events/*.jsonl`, `out_dir/events/sli.csv` and `out_dir/dora.yaml`.

    Timestamps are written as ISO 8601 with an offset, in a mix of offsets (`Z`, `+00:00`,
    `+02:00`, `-07:00`) so readers must convert to UTC. Returns the config file's path.
    """
    out_dir = Path(out_dir)
    events = out_dir / "events"
    events.mkdir(parents=True, exist_ok=True)
    frames = _build(shape)
    for name in JSONL:
        _render(frames[name]).write_ndjson(events / f"{name}.jsonl")
    _render(frames["sli"]).write_csv(events / "sli.csv")
    _date_as_settled([events / f"{name}.jsonl" for name in JSONL] + [events / "sli.csv"])
    config_path = out_dir / "dora.yaml"
    config_path.write_text(yaml.safe_dump(org_config(shape), sort_keys=False), encoding="utf-8")
    return config_path


def _date_as_settled(written: list[Path]) -> None:
    """Date the event files just written as settled (`pipelines.unchanged.SETTLED_NS` ago and a
    second more), so the run after the demo's own can skip everything when nothing changed.

    A run does not trust the stamps of inputs modified in the last seconds: they could change
    again unseen. These files are the generator's own and complete, and a later edit dates them
    at its real time, later than this, so their stamps still tell every change."""
    settled = time.time_ns() - SETTLED_NS - 1_000_000_000
    for path in written:
        os.utime(path, ns=(settled, settled))


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
