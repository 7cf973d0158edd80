"""Running the whole pipeline in-process through Dagster, stage by stage, with progress.

The CLI, the tests and a notebook all use this, so `dora-pipeline run`, `dg launch` and the
automation materialise the same assets with the same code. The stages and their order come from
the Dagster asset graph (`pipelines.asset_graph`): one stage per asset group, in dependency order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines import asset_graph, collector
from pipelines.config import DoraConfig, load_config
from pipelines.defs.resources import DoraResource
from pipelines.unchanged import (
    fingerprint,
    input_stamps,
    last_run,
    record_run,
    reports_present,
)

Progress = Callable[[str], None]
INGEST_STAGE = "ingest"  # the stage before which the partitioned GitHub ingest runs
# After this stage a run knows whether it would only repeat the last one (pipelines.unchanged).
WAREHOUSE_STAGE = "warehouse"


def __getattr__(name: str) -> Any:
    # `STAGES` reads the asset graph (loading the definitions): resolved on first use.
    if name == "STAGES":
        return asset_graph.stages()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class RunSummary:
    """What a pipeline run did: the config, seconds per stage, Dagster run ids."""

    config: DoraConfig
    seconds: dict[str, float] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    run_config: dict = field(default_factory=dict)


def _quiet(level: str) -> dict:
    """Run config that keeps Dagster's console logger at `level` (the CLI prints progress)."""
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs then show in `dg dev`)."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _definitions() -> dg.Definitions:
    return asset_graph.definitions()


def _all_assets(defs: dg.Definitions) -> list:
    return [*defs.assets, *(defs.asset_checks or [])]


def _node_keys(defs: dg.Definitions, names: list[str]) -> list[dg.AssetKey]:
    """Every asset key produced by the named assets (multi-assets give several)."""
    keys: list[dg.AssetKey] = []
    for asset in defs.assets:
        if isinstance(asset, dg.AssetsDefinition) and asset.node_def.name in names:
            keys.extend(asset.keys)
    return keys


def run_pipeline(config_path: Path, progress: Progress = print,
                 instance: dg.DagsterInstance | None = None,
                 extra_stages: list[tuple[str, Callable[..., None]]] | None = None,
                 log_level: str = "WARNING") -> RunSummary:
    """Materialise every stage for `config_path`; raise on the first failed step."""
    if instance is None:
        # An instance we make is entered and closed here, so no Dagster state outlives it.
        with _instance() as owned:
            return run_pipeline(config_path, progress, owned, extra_stages, log_level)
    config = load_config(config_path)
    defs = _definitions()
    with collector.imports_frozen():
        return _run_stages(config_path, config, defs, progress, instance, extra_stages,
                           log_level)


def _run_stages(config_path: Path, config: DoraConfig, defs: dg.Definitions,
                progress: Progress, instance: dg.DagsterInstance,
                extra_stages: list[tuple[str, Callable[..., None]]] | None,
                log_level: str) -> RunSummary:
    """The stages of `run_pipeline`, in order, on loaded definitions."""
    resources = {"dora": DoraResource(config_path=str(Path(config_path).resolve()))}
    summary = RunSummary(config=config, run_config=_quiet(log_level))
    assets = _all_assets(defs)
    # An extra stage (the CLI's reports) replaces the graph's stage of the same name.
    replaced = {name for name, _step in extra_stages or []}
    previous = last_run(config)
    # Taken before anything is read: a file changed during the run makes the next run work.
    inputs = input_stamps(config)
    repeat = False  # set after the warehouse stage: nothing this run reads has changed
    for stage, names in asset_graph.stages():
        if stage in replaced:
            continue
        if repeat:
            progress(f"{stage}: nothing changed since the last complete run; skipped")
            continue
        started = time.monotonic()
        progress(f"{stage}: {', '.join(names)} …")
        if stage == INGEST_STAGE:
            _run_partitioned(defs, assets, resources, instance, config, progress, summary)
        keys = _node_keys(defs, names)
        result = dg.materialize(assets, selection=keys, resources=resources, instance=instance,
                                tags={"dora/stage": stage}, run_config=summary.run_config)
        summary.run_ids.append(result.run_id)
        summary.failed_checks += [
            e.asset_check_evaluation_data.check_name for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and not e.asset_check_evaluation_data.passed
        ]
        summary.seconds[stage] = time.monotonic() - started
        progress(f"{stage}: done in {summary.seconds[stage]:.1f}s")
        if stage == WAREHOUSE_STAGE and previous.get("fingerprint"):
            repeat = fingerprint(config, config_path) == previous["fingerprint"]
            if repeat:  # the skipped stages' checks said this last time
                summary.failed_checks += list(previous.get("failed_checks") or [])
    for stage, step in extra_stages or []:
        if repeat and (stage != "reports" or reports_present(config)):
            progress(f"{stage}: nothing changed since the last complete run; skipped")
            continue
        started = time.monotonic()
        progress(f"{stage} …")
        step(defs=defs, assets=assets, resources=resources, instance=instance, config=config,
             progress=progress, summary=summary)
        summary.seconds[stage] = time.monotonic() - started
        progress(f"{stage}: done in {summary.seconds[stage]:.1f}s")
    record_run(config, fingerprint(config, config_path), sorted(set(summary.failed_checks)),
               inputs, config_path)
    return summary


def _run_partitioned(defs: dg.Definitions, assets: list, resources: dict,
                     instance: dg.DagsterInstance, config: DoraConfig, progress: Progress,
                     summary: RunSummary) -> None:
    """One run per GitHub repository partition (the `github_landing` asset)."""
    repos = sorted({r for s in config.sources_of("github") for r in s.repos})
    keys = _node_keys(defs, ["github_landing"])
    if not repos or not keys:
        return
    instance.add_dynamic_partitions("github_repos", repos)
    for i, repo in enumerate(repos, start=1):
        progress(f"ingest: github {repo} ({i}/{len(repos)}) …")
        result = dg.materialize(assets, selection=keys, resources=resources, instance=instance,
                                partition_key=repo, tags={"dora/stage": "ingest"},
                                run_config=summary.run_config)
        summary.run_ids.append(result.run_id)


def code_location_job(name: str) -> dg.JobDefinition:
    """The job `name` of the code location (what `dg.build_reconstructable_job` rebuilds in
    every step process)."""
    return _definitions().resolve_job_def(name)


def github_sync_parallel(config_path: Path, instance: dg.DagsterInstance, workers: int = 4,
                         repos: list[str] | None = None, repos_per_step: int = 1,
                         log_level: str = "WARNING") -> dg.ExecutionResult:
    """Run the `github_sync` job: every repository of the config (or `repos`) synced by steps
    in up to `workers` processes of Dagster's multiprocess executor, within the instance's
    `github_api` pool limit. `instance` must be persistent (step processes share it)."""
    job = dg.build_reconstructable_job("pipelines.runner", "code_location_job",
                                       reconstructable_args=("github_sync",))
    run_config = {
        **_quiet(log_level),
        "execution": {"config": {"max_concurrent": workers, "start_method": {
            "forkserver": {"preload_modules": ["pipelines.preload"]}}}},
        "resources": {"dora": {"config": {"config_path": str(Path(config_path).resolve())}}},
        "ops": {"github_plan": {"config": {"repos": list(repos or []),
                                           "repos_per_step": repos_per_step}}},
    }
    return dg.execute_job(job, instance=instance, run_config=run_config,
                          tags={"dora/stage": "ingest"})

