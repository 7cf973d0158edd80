"""Benchmark: requests a GitHub sync costs, first and with nothing new, against a fake GitHub.

    python benchmarks/github_sync.py                 # 1,000 PRs, 500 deployments, 100 incidents
    python benchmarks/github_sync.py --prs 5000      # any size

A fake repository is built (pull requests with their commits and reviews, deployments, releases,
incident issues; see tests/fake_github/generate.py), served over real HTTP on 127.0.0.1 by
tests/fake_github, and synced twice by the real client (PyGithub). The request counts are those
the server received. Targets of the issue: at most 80 for the first sync, at most 10 for a rerun.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_github import FakeGithub, build_repo  # noqa: E402

from pipelines.config import DoraConfig  # noqa: E402
from pipelines.sources.github import ClientSettings, sync_repo  # noqa: E402

FIRST_TARGET, RERUN_TARGET = 80, 10
TOKEN_ENV = "DORA_BENCHMARK_GITHUB_TOKEN"


def run_benchmark(prs: int = 1000, commits_per_pr: int = 3, reviews_per_pr: int = 2,
                  deployments: int = 500, incidents: int = 100, releases: int = 20,
                  workdir: Path | None = None) -> dict[str, Any]:
    """Sync a fake repository twice; returns the request counts and what was landed."""
    repo = build_repo(prs=prs, commits_per_pr=commits_per_pr, reviews_per_pr=reviews_per_pr,
                      deployments=deployments, incidents=incidents, releases=releases)
    with FakeGithub() as server, tempfile.TemporaryDirectory() as scratch:
        server.add_repo(repo)
        os.environ[TOKEN_ENV] = server.token
        folder = workdir or Path(scratch)
        config = DoraConfig.model_validate({
            "warehouse": str(folder / "dora.duckdb"), "config_dir": folder,
            "sources": [{"kind": "github", "repos": [repo.full_name], "token_env": TOKEN_ENV,
                         "base_url": server.base_url,
                         "deployments_from": ["deployments", "releases"]}],
        })
        # No spacing between requests: the server is local and the count is what matters.
        settings = ClientSettings(seconds_between_requests=None)
        source = config.sources[0]
        started = time.perf_counter()
        first = sync_repo(config, source, "github-0", repo.full_name, settings=settings,
                          log=lambda _m: None)
        first_seconds = time.perf_counter() - started
        first_requests = server.request_count
        server.reset_log()
        rerun = sync_repo(config, source, "github-0", repo.full_name, settings=settings,
                          log=lambda _m: None)
        return {
            "first_requests": first_requests, "first_client_count": first.requests,
            "first_seconds": first_seconds, "rerun_requests": server.request_count,
            "rerun_client_count": rerun.requests, "rerun_labels": server.labels(),
            "fetched": dict(first.fetched), "loaded": dict(first.tally.loaded),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=1000, help="pull requests (default 1000)")
    parser.add_argument("--commits-per-pr", type=int, default=3, help="default 3")
    parser.add_argument("--reviews-per-pr", type=int, default=2, help="default 2")
    parser.add_argument("--deployments", type=int, default=500, help="default 500")
    parser.add_argument("--incidents", type=int, default=100, help="incident issues (100)")
    parser.add_argument("--releases", type=int, default=20, help="default 20")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    result = run_benchmark(args.prs, args.commits_per_pr, args.reviews_per_pr, args.deployments,
                           args.incidents, args.releases)
    print(f"fake repository: {args.prs} PRs x {args.commits_per_pr} commits and "
          f"{args.reviews_per_pr} reviews, {args.deployments} deployments, {args.releases} "
          f"releases, {args.incidents} incident issues")
    print("fetched: " + ", ".join(f"{k} {v}" for k, v in sorted(result["fetched"].items())))
    print(f"first sync:           {result['first_requests']:>4} requests "
          f"(target <= {FIRST_TARGET}; {result['first_seconds']:.1f} s against the fake)")
    print(f"rerun, nothing new:   {result['rerun_requests']:>4} requests "
          f"(target <= {RERUN_TARGET}): {', '.join(result['rerun_labels'])}")
    within = (result["first_requests"] <= FIRST_TARGET
              and result["rerun_requests"] <= RERUN_TARGET)
    print("within targets" if within else "OVER TARGET")
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
