"""Benchmark: writing the team reports, per page, as the number of teams grows.

    python benchmarks/reports_scale.py                        # 50, 1,000 and 10,000 teams
    python benchmarks/reports_scale.py --teams 50 1000        # fewer sizes

For each size it generates an organisation of that many teams, one service each (not timed),
loads it into a fresh warehouse and computes every metric (not timed), then times, in a child
process, what `write_reports` does: read the overview, write every team page, write the index.
Columns: `total s` and `ms/page` for all of it (per team page), `pages s` and `page ms` for the
team pages alone, `index s` for the index. Target (issue "Fast at any size"): at most 50 ms a
team page on a 2-core machine, whatever the number of teams.
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
import json, os, sys, time
sys.path.insert(0, {root!r})
from pipelines.config import load_config
from pipelines.reports import run
from pipelines.reports.data import load_overview, warehouse
config = load_config({config!r})
start = time.perf_counter()
with warehouse(config) as conn:
    overview = load_overview(conn)
teams = overview.teams + (["unassigned"] if overview.has_unassigned else [])
loaded = time.perf_counter()
pages = run.build_team_reports(config, teams, overview)
built = time.perf_counter()
run.build_index(config, overview, pages)
done = time.perf_counter()
size = sum(p.path.stat().st_size for p in pages)
print(json.dumps({{"overview": loaded - start, "pages_s": built - loaded, "index": done - built,
                   "seconds": done - start, "pages": len(pages), "bytes": size,
                   "cpus": len(os.sched_getaffinity(0))}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, nargs="+", default=[50, 1000, 10000])
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--prs-per-service-week", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(f"{'teams':>7} {'pages':>7} {'total s':>8} {'ms/page':>8} {'pages s':>8} "
          f"{'page ms':>8} {'index s':>8} {'kB/page':>8} {'cpus':>5}", flush=True)
    for teams in args.teams:
        shape = OrgShape(teams=teams, services=teams, months=args.months,
                         prs_per_service_week=args.prs_per_service_week, seed=args.seed)
        with tempfile.TemporaryDirectory(prefix="dora-reports-bench-") as tmp:
            started = time.perf_counter()
            config_path, _sizes = prepare(shape, Path(tmp))
            from pipelines.build import compute_metrics
            from pipelines.config import load_config
            from pipelines.warehouse import connect, publish

            config = load_config(config_path)
            compute_metrics(config)
            conn = connect(config.warehouse_path)
            try:
                publish(conn)  # the reports read the published snapshot
            finally:
                conn.close()
            prep = time.perf_counter() - started
            code = CHILD.format(root=str(ROOT), config=str(config_path))
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return 1
            result = json.loads(out.stdout.strip().splitlines()[-1])
        pages = result["pages"]
        print(f"{teams:>7,} {pages:>7,} {result['seconds']:>8.1f} "
              f"{result['seconds'] / pages * 1000:>8.1f} {result['pages_s']:>8.1f} "
              f"{result['pages_s'] / pages * 1000:>8.1f} {result['index']:>8.1f} "
              f"{result['bytes'] / pages / 1024:>8.0f} {result['cpus']:>5}"
              f"   (generate+load+metrics {prep:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
