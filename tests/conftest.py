"""Shared test set-up: the tests folder is importable (eventkit, known_answers, fakes)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """The default demo organisation run end to end through Dagster, once per test session.

    Returns the `RunSummary` (its `.config` has the warehouse and reports paths).
    """
    from pipelines.demo.generator import OrgShape, write_demo
    from pipelines.runner import run_pipeline

    folder = tmp_path_factory.mktemp("demo")
    config_path = write_demo(folder, OrgShape())
    from pipelines.reports.run import report_stage

    return run_pipeline(config_path, progress=lambda _msg: None,
                        extra_stages=[("reports", report_stage)])


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """Each test starts without a leftover "current defs-state storage" (a Dagster context
    variable that an instance entered by an earlier test may have left pointing at a disposed
    instance, which breaks loading the definitions)."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
