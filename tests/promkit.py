"""A real Prometheus server (Debian's `prometheus`) on 127.0.0.1, loaded with history through
`promtool tsdb create-blocks-from openmetrics`.

`history` writes per-minute counters `http_requests_total{job, code}` whose per-minute increase
is constant within each hour, so `increase(...[1h])` at each whole hour is exactly 60 times that
hour's rate (Prometheus extrapolates the 59 sampled minutes to the full hour).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

START = 100_000  # counters start high, so Prometheus never clamps an increase at zero


def require_prometheus() -> None:
    """Skip (with the reason) when Debian's prometheus package is not installed."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("needs Debian's `prometheus` package (prometheus and promtool on PATH; "
                    ".ci/run installs it)")


def history(start: dt.datetime, rates: dict[tuple[str, str], list[int]]) -> str:
    """OpenMetrics text: for each (job, code), one sample a minute from `start` for as many
    hours as its list of per-minute rates (one rate per hour)."""
    lines = ["# TYPE http_requests counter"]
    t0 = int(start.timestamp())
    for (job, code), per_hour in sorted(rates.items()):
        value = START
        for minute in range(len(per_hour) * 60 + 1):
            if minute:
                value += per_hour[(minute - 1) // 60]
            lines.append(f'http_requests_total{{job="{job}",code="{code}"}} {value} '
                         f"{t0 + 60 * minute}")
    return "\n".join(lines) + "\n# EOF\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def prometheus_server(folder: Path, openmetrics: str) -> Iterator[str]:
    """A Prometheus on 127.0.0.1 serving `openmetrics`; yields its base URL."""
    require_prometheus()
    data = folder / "tsdb"
    data.mkdir()
    source = folder / "history.om"
    source.write_text(openmetrics)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source),
                    str(data)], check=True, capture_output=True)
    config = folder / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = _free_port()
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
         # History is older than the default 15-day retention: keep it.
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not start: "
                                   + (folder / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
