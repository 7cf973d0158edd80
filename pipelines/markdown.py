"""Markdown tables for Dagster metadata and terminal summaries."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    # Escape the table syntax so a team name or PR title cannot break (or forge) the table.
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")[:120]


def markdown_table(rows: Sequence[Sequence[object]], columns: Sequence[str]) -> str:
    """A markdown table of `rows` under `columns`."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    return head + "".join("\n| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
