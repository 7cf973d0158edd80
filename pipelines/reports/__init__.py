"""Team reports: one HTML page per team and an index, read from the warehouse (read-only).

The pages frame each team's own trend (with its test), never a ranking of teams. Data loading
is SQL from `sql/report_*.sql`, one query per table for all teams; figures are plain Plotly
figure dicts (plotly.js written once beside the pages); pages are rendered from the Jinja
templates in `templates/` with autoescape on, and a click on a point opens its records
(`metric_records`) in the page. The reports folder is the product's own (`folder.py`).

`run.write_reports` writes every page; the Dagster assets in `pipelines/defs/reports` and the CLI
call the same functions.
"""
