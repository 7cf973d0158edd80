"""Resources: the config file, from which the warehouse, landing and reports paths follow."""


import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.config import DoraConfig, load_config
from pipelines.warehouse import connect

DEFAULT_CONFIG = "dora.yaml"


class DoraResource(dg.ConfigurableResource):
    """The dora-pipeline config file (`DORA_CONFIG`, default `dora.yaml` in the working folder)."""

    config_path: str = DEFAULT_CONFIG
    # Parsed once when a run (or a step process) sets the resource up, then shared by every
    # asset and check of that run. Outside a run, `load` reads the file each time.
    _config: DoraConfig | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Parse and validate the config once for the whole run."""
        self._config = load_config(self.config_path)

    def load(self) -> DoraConfig:
        """The validated config (parsed once per run)."""
        if self._config is not None:
            return self._config
        return load_config(self.config_path)

    @contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse, closed afterwards."""
        conn = connect(self.load().warehouse_path, read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


def dora_resource() -> DoraResource:
    """The resource as the code location builds it: the path comes from `DORA_CONFIG`."""
    return DoraResource(config_path=os.environ.get("DORA_CONFIG", DEFAULT_CONFIG))


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"dora": dora_resource()})
