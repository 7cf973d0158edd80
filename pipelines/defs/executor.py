"""Where the steps of a run execute.

Every asset job (the automation's runs, `refresh`, `dg launch --assets`, the UI) runs in process:
ingest, warehouse, metrics and reports are a few seconds of work each, all on one DuckDB file,
and a process per step costs more than the work (a 7 s refresh took 78 s with one per step).

The per-repository GitHub fan-out (`github_sync`) is where steps are worth spreading; its
executor is chosen by the environment (`DORA_EXECUTOR`):
- `multiprocess` (default): each step in its own process on the machine running the run; run
  config `execution: {config: {max_concurrent: 4}}` caps the processes of one run.
- `in_process`: every step in the run's own process (debugging).
- `k8s`: each step in its own Kubernetes pod (`dagster_k8s.k8s_job_executor`), for a deployment
  with the Helm chart (deploy/helm/values.yaml); it needs the `k8s` extra (`dagster-k8s`).

`dg.materialize` (the CLI, tests) always runs in process.
"""

import os

import dagster as dg
from dagster._record import replace

EXECUTORS = ("multiprocess", "in_process", "k8s")
FANOUT_JOBS = ("github_sync",)


def executor_from_env(name: str | None = None) -> dg.ExecutorDefinition:
    """The executor called `name` (default: `$DORA_EXECUTOR`, else `multiprocess`)."""
    name = (name or os.environ.get("DORA_EXECUTOR") or "multiprocess").strip().lower()
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as exc:
            raise dg.DagsterInvariantViolationError(
                "DORA_EXECUTOR=k8s needs dagster-k8s: pip install 'dora-pipeline[k8s]'"
            ) from exc
        return k8s_job_executor
    raise dg.DagsterInvariantViolationError(
        f"DORA_EXECUTOR={name!r}: expected one of {', '.join(EXECUTORS)}")


@dg.definitions
def executor() -> dg.Definitions:
    """The code location's default executor: in process (jobs may name their own)."""
    return dg.Definitions(executor=dg.in_process_executor)


def with_fanout_executor(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with the executor of `$DORA_EXECUTOR` on the fan-out jobs (chosen when the
    definitions load, so a deployment's environment decides)."""
    executor_def = executor_from_env()
    jobs = [job.with_executor_def(executor_def)
            if isinstance(job, dg.JobDefinition) and job.name in FANOUT_JOBS else job
            for job in defs.jobs or []]
    return replace(defs, jobs=jobs)
