"""Benchmark: a whole refresh of the demo in Dagster against `dora-pipeline run`.

    python benchmarks/dagster_refresh.py            # the demo organisation, seed 7
    python benchmarks/dagster_refresh.py --seed 3

The demo is generated once; each side then starts from its own fresh copy (no landing, no
warehouse, a fresh DAGSTER_HOME with the project's dagster.yaml):
- `dora-pipeline run --config …` (every stage in process, and the team pages);
- `dg launch --assets <every unpartitioned asset>` in the project: the same code location and
  executor that the automation's runs use (in process).
Printed: the wall time of each, the ratio (the bar is Dagster ≤ 2× the CLI), and the number of
`team_metrics` rows each built, which must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BAR = 2.0


def unpartitioned_assets() -> list[str]:
    """Every asset of the code location that is not partitioned (from the graph's snapshot)."""
    out = subprocess.run([sys.executable, "-m", "pipelines.asset_graph"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assets = json.loads(out)["assets"]
    return sorted(key for key, node in assets.items() if not node["partitioned"])


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} … failed:\n{done.stderr[-3000:]}")
    return seconds


def team_metrics_rows(config: Path) -> int:
    import duckdb

    from pipelines.config import load_config

    warehouse = load_config(config).warehouse_path
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM team_metrics").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from pipelines.demo.generator import OrgShape, write_demo

    with tempfile.TemporaryDirectory(prefix="dora-bench-") as tmp:
        base = Path(tmp)
        write_demo(base / "demo", OrgShape(seed=args.seed))
        for side in ("cli", "dagster"):
            shutil.copytree(base / "demo", base / side)
            (base / side / "home").mkdir()
            shutil.copy(ROOT / "dagster.yaml", base / side / "home" / "dagster.yaml")
        env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"}

        cli_config = base / "cli" / "dora.yaml"
        cli = timed([str(BIN / "dora-pipeline"), "run", "--config", str(cli_config)],
                    cwd=base / "cli", env={**env, "DAGSTER_HOME": str(base / "cli" / "home")})

        dagster_config = base / "dagster" / "dora.yaml"
        selection = ",".join(unpartitioned_assets())
        dagster = timed([str(BIN / "dg"), "launch", "--assets", selection], cwd=ROOT,
                        env={**env, "DAGSTER_HOME": str(base / "dagster" / "home"),
                             "DORA_CONFIG": str(dagster_config)})

        rows = (team_metrics_rows(cli_config), team_metrics_rows(dagster_config))
    ratio = dagster / cli
    print(f"dora-pipeline run:                 {cli:6.1f} s")
    print(f"dg launch (every unpartitioned):   {dagster:6.1f} s")
    print(f"ratio: {ratio:.2f}× (bar: ≤ {BAR:g}×) {'ok' if ratio <= BAR else 'OVER THE BAR'}")
    print(f"team_metrics rows: cli {rows[0]}, dagster {rows[1]}"
          f"{'' if rows[0] == rows[1] else '  DIFFERENT'}")


if __name__ == "__main__":
    main()
