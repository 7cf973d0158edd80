"""Benchmark: writing the team reports, per page, as the number of teams grows.

    python benchmarks/reports_scale.py                        # 50, 1,000 and 10,000 teams
    python benchmarks/reports_scale.py --teams 50 1000        # fewer sizes
    python benchmarks/reports_scale.py --org-scale 1          # the 1M-commit org's 50 teams
    python benchmarks/reports_scale.py --org-scale 1 --org-dir /tmp/org1   # build once, reuse
    python benchmarks/reports_scale.py --teams 1000 --org-dir /tmp/orgs     # also for teams

For each size it generates an organisation of that many teams, one service each (not timed),
loads it into a fresh warehouse and computes every metric (not timed), then times, in a child
process, what `write_reports` does: read the overview, write every team page, write the index.
Columns: `total s` and `ms/page` for all of it (per team page), `pages s` and `page ms` for the
team pages alone, `index s` for the index, `kB/page` the mean size of a team page (`max kB` the
largest), `cpu ms` the CPU time per team page of the child and of the page workers it starts
(every thread; steadier than wall time on a shared machine).

`--org-scale S` measures instead the large organisation of `benchmarks/metrics_scale.py` (50
teams, 300 services, 2 years; scale 1 is about 1M commits and 168k deployments), whose teams
have long histories: thousands of deployments and tens of thousands of records behind the points
of each page. `--org-dir` keeps that warehouse and reuses it on the next run.

Target (issue "Fast at any size"): at most 50 ms a team page on a 2-core machine, whatever the
number of teams.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from metrics_scale import prepare  # noqa: E402

from pipelines.demo.generator import OrgShape  # noqa: E402

CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from pipelines.config import load_config
from pipelines.reports import run
from pipelines.reports.data import load_overview, warehouse
def cpu_seconds():  # this process and the page workers it waited for
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
config = load_config({config!r})
start, cpu = time.perf_counter(), cpu_seconds()
with warehouse(config) as conn:
    overview = load_overview(conn)
teams = overview.teams + (["unassigned"] if overview.has_unassigned else [])
loaded = time.perf_counter()
pages = run.build_team_reports(config, teams, overview)
built = time.perf_counter()
run.build_index(config, overview, pages)
done = time.perf_counter()
sizes = [p.path.stat().st_size for p in pages]
print(json.dumps({{"overview": loaded - start, "pages_s": built - loaded, "index": done - built,
                   "seconds": done - start, "pages": len(pages), "bytes": sum(sizes),
                   "max_bytes": max(sizes), "cpu": cpu_seconds() - cpu,
                   "cpus": len(os.sched_getaffinity(0))}}))
"""


HEADER = (f"{'teams':>7} {'pages':>7} {'total s':>8} {'ms/page':>8} {'pages s':>8} "
          f"{'page ms':>8} {'index s':>8} {'kB/page':>8} {'max kB':>8} {'cpu ms':>7} "
          f"{'cpus':>5}")


def build(shape: OrgShape, folder: Path) -> Path:
    """Generate `shape` into `folder`, load it and compute every metric; the config path."""
    from pipelines.build import compute_metrics
    from pipelines.config import load_config
    from pipelines.warehouse import connect, publish

    config_path, _sizes = prepare(shape, folder)
    config = load_config(config_path)
    compute_metrics(config)
    conn = connect(config.warehouse_path)
    try:
        publish(conn)  # the reports read the published snapshot
    finally:
        conn.close()
    return config_path


def time_reports(config_path: Path) -> dict | None:
    """Write every page and the index in a fresh process; its figures (None if it failed)."""
    code = CHILD.format(root=str(ROOT), config=str(config_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr, file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(teams: int, result: dict, note: str) -> str:
    pages = result["pages"]
    return (f"{teams:>7,} {pages:>7,} {result['seconds']:>8.1f} "
            f"{result['seconds'] / pages * 1000:>8.1f} {result['pages_s']:>8.1f} "
            f"{result['pages_s'] / pages * 1000:>8.1f} {result['index']:>8.1f} "
            f"{result['bytes'] / pages / 1024:>8.0f} {result['max_bytes'] / 1024:>8.0f} "
            f"{result['cpu'] / pages * 1000:>7.0f} {result['cpus']:>5}   ({note})")


def large_org(scale: float, seed: int, keep: Path | None) -> int:
    """Time the reports of the large organisation at `scale` (built in `keep` if missing)."""
    shape = OrgShape(teams=50, services=300, months=24, prs_per_service_week=4.6 * scale,
                     seed=seed)
    with tempfile.TemporaryDirectory(prefix="dora-reports-bench-") as tmp:
        folder = keep or Path(tmp)
        config_path = folder / "dora.yaml"
        started = time.perf_counter()
        if keep is None or not config_path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            config_path = build(shape, folder)
            took = time.perf_counter() - started
            note = f"org scale {scale:g}: generate+load+metrics {took:.0f}s"
        else:
            note = f"org scale {scale:g}: warehouse reused from {folder}"
        result = time_reports(config_path)
    if result is None:
        return 1
    print(line(shape.teams, result, note), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, nargs="+", default=[50, 1000, 10000])
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--prs-per-service-week", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--org-scale", type=float, default=None,
                        help="the large org instead (50 teams, 300 services, 2 years); "
                             "1 is about 1M commits")
    parser.add_argument("--org-dir", type=Path, default=None,
                        help="build each warehouse here once (the large org's, or one folder "
                             "per number of teams, teams-N), reuse it after")
    args = parser.parse_args()
    print(HEADER, flush=True)
    if args.org_scale is not None:
        return large_org(args.org_scale, args.seed, args.org_dir)
    for teams in args.teams:
        shape = OrgShape(teams=teams, services=teams, months=args.months,
                         prs_per_service_week=args.prs_per_service_week, seed=args.seed)
        with tempfile.TemporaryDirectory(prefix="dora-reports-bench-") as tmp:
            folder = args.org_dir / f"teams-{teams}" if args.org_dir else Path(tmp)
            config_path = folder / "dora.yaml"
            started = time.perf_counter()
            if config_path.exists():
                note = f"warehouse reused from {folder}"
            else:
                folder.mkdir(parents=True, exist_ok=True)
                config_path = build(shape, folder)
                note = f"generate+load+metrics {time.perf_counter() - started:.0f}s"
            result = time_reports(config_path)
        if result is None:
            return 1
        print(line(teams, result, note), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
