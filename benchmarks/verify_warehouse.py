"""Benchmark: what reading a warehouse back whole (`pipelines.warehouse.verify`) costs.

    python benchmarks/verify_warehouse.py                     # the demo organisation's warehouse
    python benchmarks/verify_warehouse.py path/to/dora.duckdb # any warehouse

Seeding the working copy and every publish copy the warehouse file and then read every block of
every table back, so a damaged file is never copied over or published. This prints the file's
size and, as the best of five, the seconds to copy it and to verify it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.warehouse import verified  # noqa: E402


def best_of(runs: int, step) -> float:
    """The shortest wall time of `runs` calls of `step`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", nargs="?", type=Path, default=None,
                        help="a DuckDB warehouse file (default: build the demo's in a scratch "
                             "folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.warehouse is not None:
            warehouse = args.warehouse
        else:
            from pipelines.demo.generator import OrgShape, write_demo
            from pipelines.runner import run_pipeline

            config = write_demo(Path(scratch) / "demo", OrgShape())
            run_pipeline(config, progress=lambda _message: None)
            warehouse = Path(scratch) / "demo" / "data" / "dora.duckdb"
        copy = Path(scratch) / "copy.duckdb"
        copying = best_of(5, lambda: shutil.copyfile(warehouse, copy))
        problem = verified(copy)
        if problem:
            raise SystemExit(f"{warehouse} is damaged: {problem}")
        verifying = best_of(5, lambda: verified(copy))
        size = warehouse.stat().st_size / 2**20
        print(f"warehouse {size:.1f} MiB: copy {copying:.3f} s, verify {verifying:.3f} s "
              f"({size / verifying:.0f} MiB/s)")


if __name__ == "__main__":
    main()
