"""Ctrl-C during `dora-pipeline run` stops it with one line, not a traceback.

The run is paused inside a Dagster step (the `deployment_outcomes` transaction, faultkit's
`outcomes` point), so the signal arrives mid-step whatever the machine's speed; then SIGINT,
as a terminal's Ctrl-C sends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import known_answers as ka
from eventkit import write_config, write_events

TESTS = Path(__file__).resolve().parents[1]
DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from faultkit import _install_pause
_install_pause("outcomes", Path({marker!r}))
from pipelines.cli import main
sys.exit(main(["run", "--config", {config!r}]))
"""


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    write_events(tmp_path / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS)
    config = write_config(tmp_path)
    marker = tmp_path / "paused"
    code = DRIVER.format(tests=str(TESTS), marker=str(marker), config=str(config))
    env = {**os.environ, "DAGSTER_HOME": "", "DAGSTER_DISABLE_TELEMETRY": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), proc.communicate(timeout=60)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "Stack Trace" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted"
    # Before it, only the progress printed before the signal: no Dagster log, no "run failed".
    assert " - dagster - " not in err and "run failed" not in err, err[-3000:]
