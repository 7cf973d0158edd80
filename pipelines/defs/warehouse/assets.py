"""Warehouse: the canonical tables, rebuilt from the landing in one transaction."""


import dagster as dg

from pipelines.build import build_canonical
from pipelines.defs.resources import DoraResource

# Upstream of every landed table (the config tables have none); `pipelines.defs.policies` adds
# any other asset of the `ingest` group.
INGEST = ["files_landing", "github_landing", "git_landing", "gitops_landing", "operator_landing",
          "incident_landing"]
CONFIG_TABLES = ("teams", "services", "slos")
TABLES = {
    "commits": "Commits with parents and author/committer times (UTC).",
    "pull_requests": "Pull requests with commits, reviews and labels.",
    "deployments": "Every deployment record, any status and environment.",
    "incidents": "Incidents with cause and optional deployment or commit.",
    "sli_measurements": "SLI good/total counts per SLO window.",
    "quarantine": "Bad records: source, file, line, field, the reason in words, the raw text.",
    "teams": "Which team owns which service, with optional from/until dates.",
    "services": "Services: repo, image, path globs.",
    "slos": "SLOs: service and objective.",
}


@dg.multi_asset(
    name="warehouse_tables",
    group_name="warehouse",
    specs=[
        dg.AssetSpec(name, description=text, deps=[] if name in CONFIG_TABLES else INGEST,
                     kinds={"duckdb"}, group_name="warehouse")
        for name, text in TABLES.items()
    ],
    pool="duckdb",
)
def warehouse_tables(context: dg.AssetExecutionContext, dora: DoraResource):
    """Reads every landed batch, keeps the latest record per key, and rewrites the canonical
    tables (and the config's teams, services and SLOs) in one transaction.

    A full rewrite, not an append: the same landing always gives byte-identical tables.
    """
    config = dora.load()
    with dora.warehouse() as conn:
        counts = build_canonical(conn, config)
    for name in TABLES:
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": counts[name]})
