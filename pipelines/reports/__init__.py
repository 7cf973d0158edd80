"""Team reports: one HTML page per team and an index, read from the warehouse (read-only).

The pages frame each team's own trend (with its test), never a ranking of teams. Data loading
is SQL from `sql/report_*.sql`; figures are Plotly (plotly.js written once beside the pages);
pages are assembled through a Jinja2 environment that escapes everything.

`run.write_reports` writes every page; the Dagster assets in `pipelines/defs/reports` and the CLI
call the same functions.
"""
