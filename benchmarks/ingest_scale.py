"""Benchmark: the `files` ingest of a large organisation against DuckDB's own read of the files.

    python benchmarks/ingest_scale.py                       # ~1M commits (about 350 MB of JSONL)
    python benchmarks/ingest_scale.py --services 60 --months 12   # a quick, smaller run
    python benchmarks/ingest_scale.py --keep /tmp/org --no-run    # reuse the files; ingest only
    python benchmarks/ingest_scale.py --keep /tmp/org --no-run --repeat 3   # best of 3 of each

It writes the demo generator's event files for the organisation (not timed), then in the same
process times (1) DuckDB reading every event file into tables (`read_json` / `read_csv`), and
(2) the `files` ingest of the same folder into a fresh landing (`ingest_folder`: parse, check,
quarantine, land as Parquet), then that ingest again with nothing changed. With `--repeat N` the
read and the first ingest are each timed N times, alternately, and the best of each is kept (on a
shared machine one slow turn otherwise decides the ratio); CPU seconds are printed beside them,
and their ratio (less sensitive to what else runs on the machine).
Unless `--no-run`, it then times two whole `dora-pipeline run`s of the organisation, the second
with nothing changed.
Targets (issue "Ingest that is true to the sources, and fast"): ingest ≤ 3× DuckDB's read; a run
with nothing changed ≤ 15% of the first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.demo.generator import OrgShape, write_demo  # noqa: E402
from pipelines.sources.files import ingest_folder  # noqa: E402


def duckdb_read(events: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) DuckDB takes to read every event file of `events` into tables."""
    started, cpu = time.perf_counter(), time.process_time()
    conn = duckdb.connect(config={"autoinstall_known_extensions": False})
    for i, path in enumerate(sorted(events.iterdir())):
        reader = "read_json" if path.suffix == ".jsonl" else "read_csv"
        conn.execute(f"CREATE TABLE t{i} AS SELECT * FROM {reader}(?)", [str(path)])  # noqa: S608
    conn.close()
    return time.perf_counter() - started, time.process_time() - cpu


def ingest(events: Path, landing: Path) -> tuple[float, float, int]:
    """Seconds (wall, CPU) the `files` ingest of `events` takes, and the records it read."""
    started, cpu = time.perf_counter(), time.process_time()
    tally, _ = ingest_folder(landing, events, "events")
    assert tally.reconciles
    return time.perf_counter() - started, time.process_time() - cpu, sum(tally.read.values())


def whole_run(config: Path) -> float:
    """Seconds one `dora-pipeline run` takes (in its own process, as a user would run it)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--prs-per-service-week", type=float, default=4.6)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="write the organisation here and keep it "
                        "(reused when it already holds one)")
    parser.add_argument("--no-run", action="store_true", help="skip the whole-run figures")
    parser.add_argument("--repeat", type=int, default=1, help="time the read and the first "
                        "ingest this many times each and keep the best")
    args = parser.parse_args()
    shape = OrgShape(teams=args.teams, services=args.services, months=args.months,
                     prs_per_service_week=args.prs_per_service_week, seed=args.seed)
    scratch = tempfile.mkdtemp(prefix="dora-ingest-bench-")
    folder = args.keep or Path(scratch) / "org"
    try:
        config = folder / "dora.yaml"
        if not config.exists():
            started = time.perf_counter()
            write_demo(folder, shape)
            print(f"generated in {time.perf_counter() - started:.0f}s", flush=True)
        events = folder / "events"
        size = sum(p.stat().st_size for p in events.iterdir()) / 1e6
        reads, ingests = [], []
        for turn in range(max(args.repeat, 1)):
            reads.append(duckdb_read(events))
            landing = Path(scratch) / f"landing{turn}"
            *timing, records = ingest(events, landing)
            ingests.append(tuple(timing))
        read, read_cpu = min(reads)
        first, first_cpu = min(ingests)
        again, _, _ = ingest(events, landing)
        print(f"event files: {size:,.0f} MB, {records:,} records", flush=True)
        print(f"DuckDB read of the files: {read:8.2f} s  (CPU {read_cpu:.2f} s)", flush=True)
        print(f"files ingest:             {first:8.2f} s  (CPU {first_cpu:.2f} s; "
              f"{first / read:.1f}x DuckDB; target <= 3x)", flush=True)
        # On a shared machine wall time depends on the neighbours; CPU time much less.
        print(f"  in CPU seconds:         {first_cpu / read_cpu:8.1f}x DuckDB's", flush=True)
        print(f"files ingest, unchanged:  {again:8.2f} s", flush=True)
        if not args.no_run:
            shutil.rmtree(folder / "data", ignore_errors=True)
            shutil.rmtree(folder / "reports", ignore_errors=True)
            full = whole_run(config)
            rerun = whole_run(config)
            print(f"dora-pipeline run:        {full:8.2f} s", flush=True)
            print(f"run, nothing changed:     {rerun:8.2f} s  ({rerun / full:.0%} of the first; "
                  f"target <= 15%)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
