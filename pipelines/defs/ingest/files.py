"""Ingest: the `files` sources (event folders) into the landing."""


import dagster as dg

from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import landing_run
from pipelines.sources.base import Tally, shown_path, source_name
from pipelines.sources.files import ingest_folder


@dg.asset(group_name="ingest", kinds={"python", "parquet"})
def files_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Reads every `kind: files` folder of the config and lands it as the source's snapshot:
    its records and quarantine rows now (a file unchanged since the last run is not read again).
    """
    config = dora.load()
    tally, batches = Tally(), 0
    for index, source in enumerate(config.sources):
        if source.kind != "files":
            continue
        name = source_name(source, index)
        folder = config.resolve(source.path)
        context.log.info(f"reading {name}: {shown_path(folder)}")
        with landing_run(context.run.run_id):
            read, written = ingest_folder(config.landing_root, folder, name, source.timezone,
                                          {s.name for s in config.slos})
        batches += written
        tally.add(read)
    return with_landing_version(dg.MaterializeResult(
        metadata={**tally.as_metadata(), "new_batches": batches,
                  "reconciles": tally.reconciles}
    ), config.landing_root, ["files"])
