"""The records behind every clickable point of a team page, as compact, columnar JSON."""

from __future__ import annotations

import polars as pl

from pipelines.reports.page import inert_json

_KEYS = ["record_kind", "record_id", "detail"]


def records_json(records: pl.DataFrame, sets: dict[str, str]) -> bytes:
    """The records behind every clickable point of one team's page (its rows of
    `report_records`, in that query's order), compact and columnar (flat arrays encode and
    decode fast, whatever the number of records):

    - `kinds`: the distinct record kinds; `kind`, `id`, `detail`: one entry per distinct
      (kind, id, detail), the kind as its index in `kinds`;
    - `rows`, `hours`: per cell, its record indexes and hours, cell after cell, in the order
      the table lists them;
    - `cells`: "record set|grain|period" → [first position in `rows`, how many];
    - `sets`: the record set of each metric a click can open (`sets`).

    Inert inside a script."""
    # each distinct record once: its index is its place among the distinct (kind, id, detail)
    numbered = records.with_columns(
        pl.struct(_KEYS).rank("dense").cast(pl.Int64).sub(1).alias("i"))
    table = numbered.select("i", *_KEYS).filter(pl.col("i").is_first_distinct()).sort("i")
    kinds = table["record_kind"].unique(maintain_order=True)
    cells = (numbered.with_row_index("row")
             .group_by("record_set", "grain", "period_start", maintain_order=True)
             .agg(pl.col("row").first().alias("first"), pl.len().alias("n"))
             .select(pl.concat_str([pl.col("record_set"), pl.col("grain"),
                                    pl.col("period_start").dt.to_string("%Y-%m-%d")],
                                   separator="|").alias("cell"), "first", "n"))
    # the two long arrays of numbers are written by polars (Python's float repr is slow)
    hours = numbered["value_hours"].round(3)
    hours = hours.set(~hours.is_finite().fill_null(True), None)
    rest = inert_json({
        "kinds": kinds.to_list(),
        "kind": table["record_kind"].replace_strict(
            kinds, pl.int_range(kinds.len(), eager=True), return_dtype=pl.Int64).to_list(),
        "id": table["record_id"].to_list(),
        "detail": table["detail"].to_list(),
        "sets": sets,
        "cells": {c: [f, n] for c, f, n in zip(cells["cell"].to_list(), cells["first"].to_list(),
                                               cells["n"].to_list(), strict=True)},
    })
    return (b'{"rows":[' + _numbers(numbered["i"]) + b'],"hours":[' + _numbers(hours) + b"],"
            + rest[1:])  # numbers need no escaping


def _numbers(series: pl.Series) -> bytes:
    """A numeric series as the inside of a JSON array (`null` for a missing value)."""
    if not len(series):
        return b""
    return series.cast(pl.String).fill_null("null").str.join(",").item().encode()
