"""Ingest: the `files` sources (event folders) into the landing."""


import dagster as dg

from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import landing_run
from pipelines.sources.base import Tally, source_name
from pipelines.sources.files import land_folder, read_folder


@dg.asset(group_name="ingest", kinds={"python", "parquet"})
def files_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Reads every `kind: files` folder of the config and lands its records and quarantine rows.

    Records are upserts by key: landing the same folder twice adds nothing.
    """
    config = dora.load()
    tally, batches = Tally(), 0
    for index, source in enumerate(config.sources):
        if source.kind != "files":
            continue
        name = source_name(source, index)
        context.log.info(f"reading {name}: {config.resolve(source.path)}")
        result = read_folder(
            config.resolve(source.path), name, source.timezone, {s.name for s in config.slos}
        )
        with landing_run(context.run.run_id):
            batches += land_folder(config.landing_root, name, result)
        tally.add(result.tally)
    return with_landing_version(dg.MaterializeResult(
        metadata={**tally.as_metadata(), "new_batches": batches,
                  "reconciles": tally.reconciles}
    ), config.landing_root, ["files"])
