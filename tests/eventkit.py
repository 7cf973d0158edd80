"""Writing small hand-made event folders and configs for the definition tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from pipelines.build import build_all, build_canonical
from pipelines.config import DoraConfig, load_config
from pipelines.sources.files import ingest_folder, land_folder, read_folder
from pipelines.warehouse import connect


def write_events(folder: Path, **entities: list[dict[str, Any]]) -> Path:
    """Write `<entity>.jsonl` files (commits, pull_requests, deployments, incidents, sli)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in entities.items():
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
    return folder


def write_config(root: Path, **overrides: Any) -> Path:
    """A config with one files source at `events/`; `overrides` replace top-level keys."""
    config: dict[str, Any] = {
        "warehouse": "data/dora.duckdb",
        "reports_dir": "reports",
        "teams": [{"name": "payments", "services": ["api"]}],
        "services": [{"name": "api", "repo": "acme/api"}],
        "sources": [{"kind": "files", "path": "events"}],
    }
    config.update(overrides)
    path = root / "dora.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def load_and_build(config_path: Path) -> DoraConfig:
    """Read every files source into the landing and build every table, without Dagster."""
    config = load_config(config_path)
    for index, source in enumerate(config.sources):
        name = source.name or f"{source.kind}-{index}"
        result = read_folder(config.resolve(source.path), name, getattr(source, "timezone", None),
                             {s.name for s in config.slos})
        land_folder(config.landing_path, name, result)
    build_all(config)
    return config


def ingest_and_build_canonical(config: DoraConfig) -> dict[str, int]:
    """Ingest every files source of `config` (each tally must reconcile: read = loaded +
    quarantined) and build the canonical tables; the tallies summed over the sources."""
    totals = {"read": 0, "loaded": 0, "quarantined": 0}
    for source in config.sources:
        tally, _ = ingest_folder(config.landing_root, config.resolve(source.path), source.name)
        assert tally.reconciles
        for what in totals:
            totals[what] += sum(getattr(tally, what).values())
    conn = connect(config.warehouse_path)
    try:
        build_canonical(conn, config)
    finally:
        conn.close()
    return totals
