"""The metric registry is the one declaration the SQL, the intervals and the docs follow."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from metrics import bands
from metrics.compute import add_intervals, sql_text
from metrics.registry import BY_COLUMN, METRICS, Count, Quantile, Rate, markdown_table, metric

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_docs_metric_table_is_the_registry() -> None:
    text = DOC.read_text("utf-8")
    start = text.index("-->\n", text.index("<!-- metric table")) + len("-->\n")
    end = text.index("<!-- end of the metric table -->")
    assert text[start:end] == markdown_table()
    assert len(markdown_table().splitlines()) == len(METRICS) + 2


def test_each_rate_is_its_numerator_over_its_denominator_in_sql() -> None:
    sql = sql_text("team_metrics")
    for m in METRICS:
        if isinstance(m.how, Rate):
            assert re.search(rf"(\w)\.{m.how.numerator}::DOUBLE / nullif\(\1\."
                             rf"{m.how.denominator}, 0\) AS {m.column}\b", sql), m.column


def test_counts_and_quantiles_are_aggregated_from_their_records() -> None:
    """team_metrics.sql takes every count and quantile from the rows of its metric's record set
    in `records` (sql/metric_records.sql emits every set of the registry)."""
    sql = " ".join(sql_text("team_metrics").split())
    records = sql_text("metric_records")
    for m in METRICS:
        assert f"'{m.record_set}'" in records, m.column
        if isinstance(m.how, Quantile):
            assert re.search(rf"quantile_cont\(value_hours, {m.how.q}\) FILTER \(record_set = "
                             rf"'{m.record_set}'( AND value_hours >= 0)?\) AS {m.column}\b",
                             sql), m.column
        elif isinstance(m.how, Count):
            assert re.search(rf"FILTER \(record_set = '{m.record_set}'( AND counted)?\)"
                             rf"::BIGINT AS {m.column}\b", sql), m.column
    shared = {m.column: m.record_set for m in METRICS if m.record_set != m.column}
    assert all(BY_COLUMN[s].record_set == s for s in shared.values())  # no chains


def test_bands_are_keys_of_the_band_tables() -> None:
    assert {m.band for m in METRICS if m.band} <= set(bands.METRICS)


def test_intervals_and_flags_follow_the_registry() -> None:
    """5 failed of 8 deployments; lead times 1..7 h. With n = 7 the ranks (1, 7) cover the
    median with probability 1 − 2·0.5^7 = 0.984 ≥ 0.95, while (2, 6) gives 1 − 2·8/128 = 0.875:
    the interval is (1 h, 7 h). 0 of 8 rework: the Wilson low end is 0."""
    row = {c: [0] for c in ("deployments", "failed_deployments", "rework_deployments",
                            "slos_total", "slos_met", "lead_time_samples", "fdrt_samples",
                            "incidents_resolved")}
    row |= {"deployments": [8], "failed_deployments": [5], "lead_time_samples": [7]}
    frame = pl.DataFrame(row).with_columns(
        pl.Series("lead_time_values", [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]),
        pl.Series("fdrt_values", [[]], dtype=pl.List(pl.Float64)),
        pl.Series("time_to_restore_values", [[]], dtype=pl.List(pl.Float64)))
    out = add_intervals(frame, min_sample=5).row(0, named=True)
    expected = set()
    for m in METRICS:
        expected |= set(m.interval_columns or ()) | {m.low_sample_column} - {None}
    assert expected <= set(out)
    assert not any(c.endswith("_values") for c in out)
    assert (out["lead_time_p50_ci_low_hours"], out["lead_time_p50_ci_high_hours"]) == (1.0, 7.0)
    assert out["change_failure_rate_ci_low"] is not None and out["rework_rate_ci_low"] == 0.0
    assert out["slo_met_ratio_ci_low"] is None  # no SLOs: no trials, no interval
    assert (out["lead_time_low_sample"], out["fdrt_low_sample"]) == (False, True)


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="fdrt_p50_hours"):
        metric("recovery_hours")
    assert metric("fdrt_p50_hours") is BY_COLUMN["fdrt_p50_hours"]


def test_each_quantile_names_a_column_of_its_table_or_how_it_is_worked_out() -> None:
    """The docs' "computed as" cell must name something a user finds: a column of the table
    (docs/sql.md), or the columns the hours are worked out from."""
    from metrics.delivery import CHANGES_SCHEMA
    from metrics.outcomes import OUTCOME_SCHEMA
    from metrics.schema import SCHEMAS

    tables = {**SCHEMAS, "changes": CHANGES_SCHEMA, "deployment_outcomes": OUTCOME_SCHEMA}
    for m in METRICS:
        if isinstance(m.how, Quantile):
            columns = tables[m.how.records]
            assert m.how.hours in columns or m.how.worked_out, m.column
            for column in re.findall(r"`(\w+)`", m.how.worked_out):
                assert column in columns, (m.column, column)
