"""Stopping the long-running Dagster processes the tests start (`dg dev`, `dagster-daemon`)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """Stop `proc` and every process it started (it was started with `start_new_session=True`):
    SIGTERM, then SIGKILL when it has not ended within `timeout` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
