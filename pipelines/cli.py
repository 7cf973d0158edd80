"""`dora-pipeline`: run the pipeline on the demo org or your own config, and write reports.

A thin front over the Dagster definitions (in-process materialisation), so the CLI, `dg launch`
and the schedule build the same warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipelines import collector
from pipelines.config import ConfigError, DoraConfig, load_config
from pipelines.errors import describe
from pipelines.reports.folder import check as check_reports_folder

console = Console(stderr=True)
SUMMARY_WEEKS = 12


def _progress(message: str) -> None:
    # Never wrapped: a progress line (often a path) stays one line in logs and pipes.
    console.print(Text("• ", style="dim") + Text(message), highlight=False, soft_wrap=True)


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("dora.yaml"),
                        help="the config file (default: ./dora.yaml)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dora-pipeline",
        description="DORA metrics from commits, pull requests, deployments and incidents: "
                    "Dagster assets into a DuckDB warehouse, with team reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="generate the demo organisation and run the whole pipeline on it",
        description="Generate a deterministic demo organisation (6 teams, 15 services, 12 "
                    "months of event files) into DIR, then ingest it, build the DuckDB "
                    "warehouse, compute every metric and write the HTML reports.")
    demo.add_argument("--dir", type=Path, default=Path("demo"),
                      help="where the demo config, events, warehouse and reports go "
                           "(default: ./demo)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    run = sub.add_parser(
        "run", help="run the whole pipeline for a config file",
        description="Ingest every source of the config, build the warehouse, compute every "
                    "metric and write the reports. The config format is in docs/config.md.")
    _config_argument(run)
    for sub_parser in (demo, run):
        sub_parser.add_argument("--verbose", action="store_true",
                                help="show Dagster's own step-by-step log, and the full "
                                     "traceback of an error")
    report = sub.add_parser(
        "report", help="rewrite the HTML reports from the existing warehouse",
        description="Read the warehouse (read-only) and rewrite every team page and the index "
                    "in the config's reports_dir.")
    _config_argument(report)
    explain = sub.add_parser(
        "explain", help="print one number of team_metrics and the records behind it",
        description="Print the value of one metric for one team and period, as in "
                    "team_metrics, and every record it is computed from (docs/metrics.md, "
                    "\"Every number has its records\"). Reads the warehouse read-only.")
    _config_argument(explain)
    explain.add_argument("--team", required=True, help="a team, or 'all teams'")
    explain.add_argument("--metric", required=True,
                         help="a team_metrics column, e.g. change_failure_rate")
    explain.add_argument("--period", required=True, type=_date, metavar="YYYY-MM-DD",
                         help="the start of the period (a date inside it also works)")
    explain.add_argument("--grain", choices=("week", "month"), default="week",
                         help="week (Monday 00:00 UTC, the default) or month")
    explain.add_argument("--format", choices=("text", "json"), default="text",
                         help="text (default) or json")
    check = sub.add_parser("check", help="validate a config file and print what it contains",
                           description="Validate a config file without running anything.")
    _config_argument(check)
    for sub_parser in (report, explain, check):
        sub_parser.add_argument("--verbose", action="store_true",
                                help="show the full traceback of an error")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dora-pipeline` command."""
    args = _parser().parse_args(argv)
    _show_notices()
    interrupts = _Interrupts()
    try:
        if args.command == "demo":
            return interrupts.outcome(_demo(args.dir, args.seed, args.verbose))
        if args.command == "run":
            return interrupts.outcome(_run(args.config, args.verbose))
        if args.command == "report":
            return interrupts.outcome(_report(args.config))
        if args.command == "explain":
            return _explain(args)
        return _check(args.config)
    except ConfigError as exc:
        _traceback(exc, args.verbose)
        console.print(Text("config error", style="red") + Text(f" {exc}"), highlight=False,
                      soft_wrap=True)
        return 2
    except Exception as exc:  # noqa: BLE001 - every failure ends in one line (see errors.py)
        if interrupts.check():  # a step stopped by Ctrl-C fails the run: say interrupted
            return interrupts.outcome(130)
        _traceback(exc, args.verbose)
        _error(f"{args.command} failed", exc)
        return 1
    except BaseException:  # Ctrl-C arrives as KeyboardInterrupt or Dagster's interrupt error
        if not interrupts.check():
            raise
        return interrupts.outcome(130)
    finally:
        interrupts.close()


def _error(what: str, exc: BaseException) -> None:
    """The one line that says what happened and what to do (never wrapped, never markup)."""
    console.print(Text(what, style="red") + Text(f": {describe(exc)}"), highlight=False,
                  soft_wrap=True)


def _traceback(exc: BaseException, verbose: bool) -> None:
    if verbose:
        console.print("".join(traceback.format_exception(exc)), highlight=False,
                      markup=False, soft_wrap=True)


class _NoticeHandler(logging.Handler):
    """Prints the product's one-line notices (`pipelines.errors.notice`) as warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(Text("warning", style="yellow") + Text(f": {record.getMessage()}"),
                      highlight=False, soft_wrap=True)


def _show_notices() -> None:
    logger = logging.getLogger("pipelines")
    if not any(isinstance(h, _NoticeHandler) for h in logger.handlers):
        logger.addHandler(_NoticeHandler(logging.WARNING))


class _Interrupts:
    """Ctrl-C stops a run with one line. Dagster swaps the SIGINT handler while it executes and
    logs the interrupted step with its traceback, so the signal is noticed through the wakeup
    fd (written at the signal, whatever the handler) and checked on every write to stdout and
    stderr: from the signal on, nothing more is printed but the one line of `outcome`."""

    def __init__(self) -> None:
        self.seen = False
        self._streams: tuple[Any, Any] | None = None
        self._previous: int | None = None
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        try:
            self._previous = signal.set_wakeup_fd(self._write)
        except ValueError:  # not the main thread (an embedding caller): nothing to watch
            self.close()
            return
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = _Gated(sys.stdout, self), _Gated(sys.stderr, self)

    def check(self) -> bool:
        """True once SIGINT has arrived."""
        if not self.seen and self._read >= 0:
            try:
                self.seen = signal.SIGINT in os.read(self._read, 512)
            except BlockingIOError:
                pass
        return self.seen

    def outcome(self, code: int) -> int:
        """`code`, or 130 with the one line when the run was interrupted."""
        if not self.check():
            return code
        self._restore()
        console.print("interrupted")
        return 130

    def _restore(self) -> None:
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None

    def close(self) -> None:
        self._restore()
        if self._write >= 0:
            if self._previous is not None:
                signal.set_wakeup_fd(self._previous)
            for fd in (self._read, self._write):
                os.close(fd)
            self._read = self._write = -1


class _Gated:
    """A stream that stops writing once Ctrl-C was pressed (see `_Interrupts`)."""

    def __init__(self, stream: Any, interrupts: _Interrupts) -> None:
        self._stream, self._interrupts = stream, interrupts

    def write(self, text: str) -> int:
        return len(text) if self._interrupts.check() else self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _demo(folder: Path, seed: int, verbose: bool = False) -> int:
    from pipelines.demo.generator import OrgShape, write_demo

    _progress(f"generating the demo organisation in {folder}/ (seed {seed}) …")
    config_path = write_demo(folder, OrgShape(seed=seed))
    return _run(config_path, verbose)


def _run(config_path: Path, verbose: bool = False) -> int:
    from pipelines.unchanged import skip_whole_run

    config = load_config(config_path)
    check_reports_folder(config.reports_path)  # a foreign folder is refused before any work
    previous = skip_whole_run(config, config_path)
    if previous is not None:  # seen before Dagster is even imported
        _progress("nothing changed since the last complete run (inputs, config, code, "
                  "warehouse and reports); skipped")
        failed_checks = list(previous.get("failed_checks") or [])
    else:
        from pipelines.runner import run_pipeline

        # Without --verbose, Dagster logs nothing to the console (its failure records hold
        # tracebacks): `main` prints one line per error, and notices come through `logging`.
        failed_checks = run_pipeline(
            config_path, progress=_progress, extra_stages=_report_stages(),
            log_level="DEBUG" if verbose else "CRITICAL").failed_checks
    _print_summary(config)
    for check in failed_checks:
        console.print(f"[yellow]warning[/yellow]: check `{check}` did not pass "
                      "(see the Dagster UI or the quarantine table)", highlight=False)
    console.print(f"warehouse: {config.warehouse_path}", highlight=False, markup=False)
    console.print(f"reports:   {config.reports_path / 'index.html'}", highlight=False,
                  markup=False)
    return 0


def _report_stages() -> list:
    return [("reports", _report_stage)]


def _report_stage(**kwargs: Any) -> None:
    """The reports stage, imported when it runs: a run with nothing changed skips it, and the
    report modules (plotting and statistics) take a second or more to import."""
    from pipelines.reports.run import report_stage

    report_stage(**kwargs)


def _report(config_path: Path) -> int:
    config = load_config(config_path)
    from pipelines.reports.run import write_reports

    index = write_reports(config, progress=_progress)
    console.print(f"reports: {index}", highlight=False, markup=False)
    return 0


def _check(config_path: Path) -> int:
    config = load_config(config_path)
    check_reports_folder(config.reports_path)
    console.print(f"{config_path}: valid", highlight=False, markup=False)
    console.print(f"  teams: {len(config.teams)}, services: {len(config.services)}, "
                  f"SLOs: {len(config.slos)}, sources: "
                  + ", ".join(s.kind for s in config.sources), highlight=False, markup=False)
    console.print(f"  warehouse: {config.warehouse_path}", highlight=False, markup=False)
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _explain(args: argparse.Namespace) -> int:
    from pipelines.explain import ExplainError, as_json, as_text, explain
    from pipelines.warehouse import connect

    config = load_config(args.config)
    if not config.warehouse_path.exists():
        console.print(Text("explain: ", style="red")
                      + Text(f"no warehouse at {config.warehouse_path}: run "
                             "`dora-pipeline run` first"), highlight=False, soft_wrap=True)
        return 2
    conn = connect(config.warehouse_path, read_only=True)
    try:
        answer = explain(conn, args.team, args.metric, args.period, args.grain)
    except ExplainError as exc:
        console.print(Text("explain: ", style="red") + Text(str(exc)), highlight=False,
                      soft_wrap=True)
        return 2
    finally:
        conn.close()
    print(as_json(answer) if args.format == "json" else as_text(answer))
    return 0


# The CLI summary's columns: team_metrics columns, headed by their registry titles.
SUMMARY_COLUMNS = ("deployments", "lead_time_p50_hours", "change_failure_rate",
                   "fdrt_p50_hours", "changes")


def _summary_heading(column: str) -> str:
    from metrics.registry import metric

    m = metric(column)
    per = " per week" if column == "deployments" else ""
    unit = " (h)" if m.unit == "hours" else ""
    return f"{m.title}{per}{unit}"


def _print_summary(config: DoraConfig) -> None:
    from metrics.compute import sql_text
    from pipelines.warehouse import connect

    conn = connect(config.warehouse_path, read_only=True)
    try:
        rows = conn.sql(sql_text("team_summary"), params={"weeks": SUMMARY_WEEKS}).fetchall()
    finally:
        conn.close()
    table = Table(title=f"Last {SUMMARY_WEEKS} weeks per team, from team_metrics: counts "
                        "summed, rates pooled, medians over the weeks' records (alphabetical; "
                        "each team's trend is in its report)")
    for column in ("team",) + tuple(_summary_heading(c) for c in SUMMARY_COLUMNS):
        table.add_column(column, overflow="fold")
    for row in rows:
        # Text(), not a plain string: a team name must never be read as rich markup.
        table.add_row(*(Text("–" if v is None else str(v)) for v in row))
    Console().print(table)


def command() -> int:
    """The `dora-pipeline` console script: `main`, then an exit that skips the interpreter's
    last collector passes (`collector.leave_to_exit`, about a second of every run)."""
    code = main()
    collector.leave_to_exit()
    return code


if __name__ == "__main__":
    sys.exit(command())
