"""Benchmark: ingest many GitHub repositories with 1 and with N worker processes.

    python benchmarks/github_parallel.py                      # 200 repositories, 1 and 4 workers
    python benchmarks/github_parallel.py --repos 50 --workers 1 2 4 --latency-ms 200

Small fake repositories (tests/slow_github.py: a few PRs with commits and reviews, deployments, a
release, an incident each) are served over real HTTP on 127.0.0.1 by the fake GitHub, threaded and
answering each request `--latency-ms` late, as GitHub does (its answers take ~100–500 ms). For
each worker count, a fresh landing and a fresh persistent Dagster instance (its `github_api` pool
limit = the worker count) run the `github_sync` job on Dagster's multiprocess executor, `--per-step`
repositories per step; then the warehouse is built from the landing. Printed: wall time of the
ingest, requests the server received, and a checksum of the warehouse's canonical tables, which
must be the same for every worker count.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import dagster as dg  # noqa: E402
import yaml  # noqa: E402
from slow_github import SlowGithub, many_repos  # noqa: E402

from pipelines.build import CANONICAL, build_warehouse  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.runner import github_sync_parallel  # noqa: E402
from pipelines.warehouse import connect  # noqa: E402

TOKEN_ENV = "DORA_BENCHMARK_GITHUB_TOKEN"


def warehouse_checksum(warehouse: Path) -> str:
    """SHA-256 over every canonical table, rows in a fixed order, ignoring run-specific columns
    (none of the canonical tables holds one: batch file names never reach them)."""
    digest = hashlib.sha256()
    conn = connect(warehouse, read_only=True, latest=True)  # the build, published or not
    try:
        for table in CANONICAL:
            rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()  # noqa: S608
            digest.update(f"{table}:{len(rows)}:{rows!r}".encode())
    finally:
        conn.close()
    return digest.hexdigest()[:16]


def run_once(server: SlowGithub, repos: list[str], workers: int, per_step: int,
             folder: Path) -> dict[str, Any]:
    """One ingest of `repos` with `workers` processes into `folder`; then the warehouse."""
    config_path = folder / "dora.yaml"
    config_path.write_text(yaml.safe_dump({
        "warehouse": "data/dora.duckdb",
        "sources": [{"kind": "github", "repos": repos, "token_env": TOKEN_ENV,
                     "base_url": server.base_url,
                     "deployments_from": ["deployments", "releases"]}],
    }), encoding="utf-8")
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    server.reset_log()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("github_api", workers)
        started = time.perf_counter()
        result = github_sync_parallel(config_path, instance, workers=workers,
                                      repos_per_step=per_step)
        seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"the {workers}-worker run failed")
    requests = server.request_count
    config = load_config(config_path)
    counts = build_warehouse(config)
    return {"workers": workers, "seconds": seconds, "requests": requests,
            "checksum": warehouse_checksum(config.warehouse_path), "counts": counts}


def run_benchmark(repos: int = 200, workers: tuple[int, ...] = (1, 4), latency_ms: float = 100,
                  per_step: int = 10) -> list[dict[str, Any]]:
    """Every worker count against the same fake GitHub; one result dict per count."""
    fakes = many_repos(repos)
    names = [r.full_name for r in fakes]
    results = []
    with SlowGithub(latency=latency_ms / 1000) as server:
        for repo in fakes:
            server.add_repo(repo)
        os.environ[TOKEN_ENV] = server.token
        for count in workers:
            with tempfile.TemporaryDirectory(prefix=f"dora-bench-{count}-") as scratch:
                results.append(run_once(server, names, count, per_step, Path(scratch)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=200, help="repositories (default 200)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4],
                        help="worker process counts to compare (default: 1 4)")
    parser.add_argument("--latency-ms", type=float, default=100,
                        help="the fake GitHub's answer time per request (default 100)")
    parser.add_argument("--per-step", type=int, default=10,
                        help="repositories per step (default 10)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"{args.repos} repositories, {args.latency_ms:.0f} ms per request, "
          f"{args.per_step} per step", flush=True)
    results = run_benchmark(args.repos, tuple(args.workers), args.latency_ms, args.per_step)
    print(f"{'workers':>7} {'wall s':>8} {'requests':>9} {'repos/s':>8}  warehouse checksum")
    for r in results:
        print(f"{r['workers']:>7} {r['seconds']:>8.1f} {r['requests']:>9} "
              f"{args.repos / r['seconds']:>8.2f}  {r['checksum']}")
    base = results[0]["seconds"]
    for r in results[1:]:
        print(f"speed-up with {r['workers']} workers: {base / r['seconds']:.2f}x")
    same = len({r["checksum"] for r in results}) == 1
    print("warehouse identical for every worker count:", "yes" if same else "NO")
    print("rows:", ", ".join(f"{k} {v}" for k, v in results[0]["counts"].items()
                             if k in CANONICAL))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
