"""A process that writes a share of the team pages: `python -m pipelines.reports.worker`.

It reads a pickled `(config, teams)` from stdin, reads those teams' data from the warehouse
(read-only, one query per table), writes their pages and prints one JSON line per page. Pages are
built in separate interpreters (not a fork, which polars' threads make unsafe; not
multiprocessing's spawn, which re-runs the caller's main script).
"""

from __future__ import annotations

import pickle
import sys

from pipelines import collector


def main() -> int:
    """Write the pages of the teams given on stdin; one JSON line per page on stdout."""
    config, teams = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our own parent process
    from pipelines.reports.run import TeamReport, build_chunk

    def built(report: TeamReport) -> None:  # each page said as it is built
        print(report.to_json(), flush=True)

    build_chunk(config, teams, built=built)
    collector.leave_to_exit()  # the process ends here: no last collector passes
    return 0


if __name__ == "__main__":
    sys.exit(main())
