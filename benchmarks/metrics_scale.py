"""Benchmark: the metric computation after ingest, on a generated large organisation.

    python benchmarks/metrics_scale.py                      # ~50 teams, 300 services, 2 years
    python benchmarks/metrics_scale.py --scales 0.25 0.5 1  # linearity: time per commit

For each scale it generates the organisation (not timed), writes the canonical tables straight
into a fresh DuckDB warehouse (ingest, not timed), then times `compute_metrics` — every derived
table: changes, deployment_outcomes, slo_periods, team_metrics, org_metrics — in a child process,
and reports its wall time and peak resident memory (the child's own VmHWM).
Targets (issue "The whole pipeline end to end"): under 60 s and 4 GB at ~1M commits; linear in
commits (`--scales 1 2`: twice the commits in at most 2.2 times the time). The whole run against
the machine's floor is `benchmarks/run_scale.py`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metrics.schema import conform  # noqa: E402
from pipelines.build import build_canonical, config_tables, write_table  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.demo.generator import OrgShape, generate_org, org_config  # noqa: E402
from pipelines.warehouse import connect  # noqa: E402

ENTITIES = {"commits": "commits", "pull_requests": "pull_requests",
            "deployments": "deployments", "incidents": "incidents", "sli": "sli_measurements"}


def prepare(shape: OrgShape, folder: Path) -> tuple[Path, dict[str, int]]:
    """Generate the org and load it as canonical tables; returns the config path and sizes."""
    import yaml

    frames = generate_org(shape)
    config_path = folder / "dora.yaml"
    config_path.write_text(yaml.safe_dump(org_config(shape), sort_keys=False), encoding="utf-8")
    config = load_config(config_path)
    conn = connect(config.warehouse_path)
    try:
        build_canonical(conn, config)  # creates every table (empty landing) and config tables
        for name, entity in ENTITIES.items():
            frame = conform(entity, frames[name].with_columns())
            write_table(conn, entity, frame)
        for name, frame in config_tables(config).items():
            write_table(conn, name, frame)
    finally:
        conn.close()
    return config_path, {k: v.height for k, v in frames.items()}


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pipelines.build import compute_metrics
from pipelines.config import load_config
config = load_config({config!r})
start = time.perf_counter()
counts = compute_metrics(config)
seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry over the parent's, on Linux).
with open("/proc/self/status", encoding="ascii") as status:
    peak_mb = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb, "counts": counts}}))
"""


def time_compute(config_path: Path) -> dict:
    """Run `compute_metrics` in a fresh process; its wall time and peak memory."""
    code = CHILD.format(root=str(ROOT), config=str(config_path))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--prs-per-service-week", type=float, default=4.6,
                        help="scale knob: ~4.6 gives about 1M commits for 300 services, 2 years")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0],
                        help="multiply the PR rate by each of these (linearity check)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    base = OrgShape(teams=args.teams, services=args.services, months=args.months,
                    prs_per_service_week=args.prs_per_service_week, seed=args.seed)
    print(f"{'scale':>6} {'commits':>10} {'deploys':>8} {'seconds':>8} {'peak MB':>8} "
          f"{'µs/commit':>10}", flush=True)
    for scale in args.scales:
        shape = replace(base, prs_per_service_week=base.prs_per_service_week * scale)
        with tempfile.TemporaryDirectory(prefix="dora-bench-") as tmp:
            started = time.perf_counter()
            config_path, sizes = prepare(shape, Path(tmp))
            prep = time.perf_counter() - started
            result = time_compute(config_path)
        per_commit = result["seconds"] / max(sizes["commits"], 1) * 1e6
        print(f"{scale:>6.2f} {sizes['commits']:>10,} {sizes['deployments']:>8,} "
              f"{result['seconds']:>8.1f} {result['peak_mb']:>8.0f} {per_commit:>10.2f}"
              f"   (generate+load {prep:.0f}s)", flush=True)
    print(f"parent peak MB (generation): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
