"""`dg dev` serves the asset graph: start it for real and ask its GraphQL API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from processkit import stop_group

ROOT = Path(__file__).resolve().parents[2]
QUERY = '{ assetNodes { assetKey { path } groupName } }'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.slow
def test_dg_dev_shows_the_asset_graph(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DORA_CONFIG": "demo/dora.yaml"}
    dg = Path(sys.executable).with_name("dg")
    proc = subprocess.Popen([str(dg), "dev", "--port", str(port), "--host", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        answer = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            answer = _graphql(port)
            if answer and answer.get("data", {}).get("assetNodes"):
                break
            time.sleep(2)
        assert answer is not None, "dg dev did not answer on its port"
        nodes = {"/".join(n["assetKey"]["path"]): n["groupName"]
                 for n in answer["data"]["assetNodes"]}
        assert nodes["files_landing"] == "ingest"
        assert nodes["commits"] == "warehouse"
        assert nodes["team_metrics"] == "metrics"
    finally:
        stop_group(proc, timeout=30)
