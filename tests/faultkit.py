"""Fault-injection helpers for the reliability tests (test_resume, test_concurrency, …).

- `make_inputs`: one organisation fed by every local source kind (event files in JSON Lines and
  CSV with some bad records, a git clone, a GitOps config repo, Argo CD history), with relative
  paths only, so a copy of the folder is the same input.
- `table_checksums`: a SHA-256 per table of the published warehouse, over its rows in stored
  order: two warehouses with equal checksums have byte-identical table contents.
- `start_run` / `kill_at`: the real pipeline (`pipelines.runner.run_pipeline`, every Dagster
  stage) in a separate process, paused at a named point so it can be SIGKILLed exactly there.
  Processes are forked from a fork server that imported the pipeline once (a fresh interpreter
  costs seconds of imports per run); each is a real process with its own DuckDB and Dagster.

The session fixture `reference` is in faultkit_fixtures.py
(`pytest_plugins = ["faultkit_fixtures"]`).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import known_answers as ka
import polars as pl
import yaml
from eventkit import write_events
from gitops_world import build_world, k8s_list, production_app, write_json

# Points at which a paused run waits to be killed (see `_install_pause`).
PAUSE_POINTS = ("batch", "canonical", "outcomes", "publish")
MARKER_TIMEOUT = 180.0

_CONTEXT = multiprocessing.get_context("forkserver")
# Everything a run imports, imported once in the fork server (not in a thread-running process:
# forking one that has started polars' or DuckDB's thread pools may deadlock the child).
_CONTEXT.set_forkserver_preload(["pipelines.preload", "pipelines.runner", "faultkit"])


# ---- the input -----------------------------------------------------------------------------------

BAD_LINES = [
    '{"id": "bad-1", "service": "api", "environment": "production"',  # truncated
    json.dumps({"id": "bad-2", "service": "api", "environment": "production",
                "revision": "c0", "finished_at": "2026-01-05T10:00:00", "status": "success"}),
]


def make_inputs(root: Path) -> Path:
    """Write the organisation into `root` (which must not exist); returns its config path."""
    root.mkdir(parents=True)
    world = build_world(root)
    events = root / "events"
    write_events(events, commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS)
    with (events / "deployments.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(BAD_LINES) + "\n")
    # SLI as CSV, one row bad (good > total).
    rows = [",".join(str(r[k]) for k in ("slo", "window_start", "window_end", "good", "total"))
            for r in ka.SLI]
    (events / "sli.csv").write_text(
        "slo,window_start,window_end,good,total\n" + "\n".join(rows)
        + "\napi-availability,2026-01-20T00:00:00Z,2026-01-21T00:00:00Z,11,10\n",
        encoding="utf-8")
    (root / "argocd").mkdir()
    write_json(root / "argocd", "applications.json", k8s_list(production_app(world)))
    config = {
        "warehouse": "data/dora.duckdb",
        "reports_dir": "reports",
        "teams": [{"name": "payments", "services": ["api", "payments-api", "ledger"]}],
        "services": [
            {"name": "api", "repo": "acme/api"},
            {"name": "payments-api", "repo": "acme/payments-api",
             "image": "ghcr.io/acme/payments-api"},
            {"name": "ledger", "repo": "acme/ledger", "image": "ghcr.io/acme/ledger"},
        ],
        "slos": ka.SLOS,
        "sources": [
            {"kind": "files", "name": "events", "path": "events"},
            {"kind": "git", "name": "app", "path": world.app_path.name,
             "service": "payments-api"},
            {"kind": "gitops", "name": "deploy", "path": world.config_path.name},
            {"kind": "argocd", "name": "argo", "path": "argocd/applications.json"},
        ],
    }
    path = root / "dora.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def copy_inputs(template: Path, target: Path) -> Path:
    """A copy of an input folder made by `make_inputs` (no warehouse); returns its config."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("data", "reports"))
    return target / "dora.yaml"


# ---- what a warehouse holds ----------------------------------------------------------------------


def warehouse_file(config_path: Path) -> Path:
    """The published warehouse of a config made by `make_inputs`."""
    return config_path.parent / "data" / "dora.duckdb"


def table_checksums(path: Path) -> dict[str, str]:
    """SHA-256 of each table's rows (stored order, Python values) in the DuckDB file `path`."""
    conn = duckdb.connect(str(path), read_only=True,
                          config={"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False})
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "ORDER BY 1").fetchall()]
        sums = {}
        for table in tables:  # names from the catalog, quoted
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            sums[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return sums
    finally:
        conn.close()


def unreadable_batches(landing: Path) -> list[Path]:
    """Landed batches that are not whole Parquet files (a torn write would show here)."""
    bad = []
    for path in sorted(landing.rglob("*.parquet")):
        try:
            pl.read_parquet(path)
        except Exception:  # noqa: BLE001 - any failure to read is what we look for
            bad.append(path)
    return bad


# ---- runs in another process ---------------------------------------------------------------------


# The real os.replace, taken before a pause point may patch it (point "publish").
_REPLACE = os.replace


def write_atomically(path: Path, text: str) -> None:
    """Write `path` so that a reader polling it sees nothing or all of `text`, never a part."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    _REPLACE(partial, path)


def _pause(marker: Path, point: str) -> None:
    """Tell the test where we are, then wait: to be killed, or released (`Run.release`)."""
    write_atomically(marker, point)
    go = marker.with_suffix(".go")
    deadline = time.monotonic() + 600
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _install_pause(point: str, marker: Path) -> None:
    """Make this process stop (and wait for SIGKILL) at `point`:

    - `batch`: a landing batch written to its temporary name, not yet renamed;
    - `canonical`: inside the warehouse build's transaction, `deployments` written, the other
      canonical tables not (nor the commit);
    - `outcomes`: inside the `deployment_outcomes` asset's transaction, before its commit;
    - `publish`: the verified copy of the working file made, not yet swapped in for readers.
    """
    import pipelines.build as build

    if point == "batch":
        rename = Path.rename

        def paused_rename(self: Path, target: Any) -> Any:
            if self.suffix == ".partial":
                _pause(marker, point)
            return rename(self, target)

        Path.rename = paused_rename  # type: ignore[method-assign]
    elif point in ("canonical", "outcomes"):
        table = "deployments" if point == "canonical" else "deployment_outcomes"
        write_table = build.write_table

        def paused_write(conn: Any, name: str, *args: Any, **kwargs: Any) -> int:
            rows = write_table(conn, name, *args, **kwargs)
            if name == table:
                _pause(marker, point)
            return rows

        build.write_table = paused_write
    elif point == "publish":
        replace = os.replace

        def paused_replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            if Path(target).suffix == ".duckdb":
                _pause(marker, point)
            replace(source, target, *args, **kwargs)

        os.replace = paused_replace
    else:
        raise ValueError(f"unknown pause point {point!r}")


def _child(config_path: str, pause: str | None, marker: str, env: dict[str, str]) -> None:
    """The body of a run process: one whole pipeline run, paused at `pause` if given."""
    os.environ.update(env)
    from pipelines.runner import run_pipeline

    if pause:
        _install_pause(pause, Path(marker))
    try:
        run_pipeline(Path(config_path), progress=lambda _message: None)
    except BaseException as exc:
        write_atomically(Path(marker + ".error"), f"{type(exc).__name__}: {exc}")
        raise


@dataclass
class Run:
    """A pipeline run in another process."""

    process: Any
    marker: Path

    def wait(self, timeout: float = 300.0) -> int:
        """Wait for the run to end; its exit code (0: success)."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            raise AssertionError(f"run did not finish in {timeout}s")
        return self.process.exitcode

    def reached(self, timeout: float = MARKER_TIMEOUT) -> str:
        """Wait until the run is paused at its point; the point's name."""
        wait_for(lambda: self.marker.exists() or not self.process.is_alive(), timeout,
                 "the run to reach its pause point")
        if not self.marker.exists():
            raise AssertionError(f"the run ended (exit {self.process.exitcode}) before its "
                                 f"pause point: {self.error}")
        return self.marker.read_text(encoding="utf-8")

    def release(self) -> None:
        """Let a paused run go on."""
        write_atomically(self.marker.with_suffix(".go"), "go")

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no flush; the process just stops."""
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)

    @property
    def error(self) -> str:
        path = Path(f"{self.marker}.error")
        return path.read_text(encoding="utf-8") if path.exists() else ""


def start_run(config_path: Path, pause: str | None = None,
              env: dict[str, str] | None = None) -> Run:
    """Start `run_pipeline(config_path)` in another process (see `_install_pause`)."""
    if pause is not None and pause not in PAUSE_POINTS:
        raise ValueError(f"unknown pause point {pause!r}; one of {PAUSE_POINTS}")
    marker = config_path.parent / f".run-{time.time_ns()}.marker"
    process = _CONTEXT.Process(target=_child,
                               args=(str(config_path), pause, str(marker), env or {}))
    process.start()
    return Run(process, marker)


def kill_at(config_path: Path, point: str) -> None:
    """Run the pipeline until it reaches `point`, then SIGKILL it."""
    run = start_run(config_path, pause=point)
    try:
        run.reached()
    finally:
        run.kill()
    assert run.process.exitcode == -signal.SIGKILL


def kill_after(config_path: Path, seconds: float) -> bool:
    """Run the pipeline and SIGKILL it after `seconds`; False when it finished first."""
    run = start_run(config_path)
    run.process.join(seconds)
    alive = run.process.is_alive()
    run.kill()
    return alive


def run_to_end(config_path: Path, env: dict[str, str] | None = None) -> None:
    """One whole run in another process; fails the test with the run's error."""
    run = start_run(config_path, env=env)
    code = run.wait()
    assert code == 0, f"run failed (exit {code}): {run.error}"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
