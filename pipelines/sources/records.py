"""Turning one outside record (a dict of raw values) into a canonical row, or a reason it is bad.

Shared by every source that reads loosely typed input (event files, JSON exports). Each field has
a kind; a value of the wrong kind is reported with the field's name and what was wrong, in words.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from metrics.schema import DEPLOYMENT_STATUSES, INCIDENT_CAUSES

INT64_MAX = 2**63 - 1
# The instants a record may carry. Outside them a timestamp is a typo or a placeholder (year 1,
# 9999): accepted, one such record would stretch every team's weekly series over millennia.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def display(value: str, limit: int = 60, middle: bool = False) -> str:
    """`value` as a person can read it in a reason: control characters, invalid surrogates and
    other unprintable characters escaped (as Python writes them), cut to `limit` characters
    (with `middle`, cut in the middle, keeping the end of a sentence that names a long value).

    Field names and keys come from the input, so they may hold anything (a 1 MB name, a NUL, a
    lone UTF-16 surrogate from a JSON escape); a reason must stay short, printable, and storable
    as UTF-8.
    """
    if not value:
        return "(no name)"
    text = repr(value)[1:-1] if not value.isprintable() else value
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= limit:
        return text
    if middle:
        half = (limit - 1) // 2
        return text[:half] + "…" + text[len(text) - half:]
    return text[:limit] + "…"


class BadRecord(ValueError):
    """A record that cannot load; `field` names the culprit (or None for the whole record)."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # text | int | bool | timestamp | list | reviews
    required: bool = False


def _f(kind: str, required: bool = False) -> FieldSpec:
    return FieldSpec(kind, required)


FIELDS: dict[str, dict[str, FieldSpec]] = {
    "commits": {
        "repo": _f("text", True), "sha": _f("text", True), "parents": _f("list"),
        "authored_at": _f("timestamp", True), "committed_at": _f("timestamp", True),
        "author": _f("text"), "message": _f("text"), "files": _f("list"),
    },
    "pull_requests": {
        "repo": _f("text", True), "number": _f("int", True), "title": _f("text"),
        "author": _f("text"), "author_is_bot": _f("bool"), "created_at": _f("timestamp", True),
        "merged_at": _f("timestamp"), "closed_at": _f("timestamp"), "base_branch": _f("text"),
        "merge_commit_sha": _f("text"), "commit_shas": _f("list"), "reviews": _f("reviews"),
        "labels": _f("list"), "files": _f("list"),
    },
    "deployments": {
        "id": _f("text", True), "service": _f("text", True), "environment": _f("text", True),
        "revision": _f("text", True), "started_at": _f("timestamp"),
        "finished_at": _f("timestamp", True), "status": _f("text", True),
        "rollback_of": _f("text"), "fix_for": _f("text"), "labels": _f("list"),
    },
    "incidents": {
        "id": _f("text", True), "service": _f("text", True), "title": _f("text"),
        "opened_at": _f("timestamp", True), "resolved_at": _f("timestamp"),
        "severity": _f("text"), "cause": _f("text"), "deployment_id": _f("text"),
        "commit_sha": _f("text"),
    },
    "sli_measurements": {
        "slo": _f("text", True), "window_start": _f("timestamp", True),
        "window_end": _f("timestamp", True), "good": _f("int", True), "total": _f("int", True),
    },
}


def parse_timestamp(value: Any, field: str, tz: ZoneInfo | None = None) -> dt.datetime:
    """ISO 8601 with an offset → aware UTC datetime; offset-less only with a source timezone.

    The instant must lie in [EARLIEST, LATEST): years 1970 to 2099.
    """
    if not isinstance(value, str):
        raise BadRecord(field, f"`{field}` must be an ISO 8601 timestamp, got {_kind(value)}")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRecord(
            field, f"`{field}` is not a valid ISO 8601 timestamp: {_show(value)}"
        ) from None
    if parsed.tzinfo is None:
        if tz is None:
            raise BadRecord(
                field,
                f"`{field}` has no UTC offset ({_show(value)}); add one, or set `timezone` "
                "on the source",
            )
        parsed = parsed.replace(tzinfo=tz)
    try:
        instant = parsed.astimezone(dt.UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant < LATEST:
        raise BadRecord(
            field, f"`{field}` is outside the supported range (years {EARLIEST.year} to "
            f"{LATEST.year - 1}, UTC): {_show(value)}",
        )
    return instant


def _text(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRecord(field, f"`{field}` must be text, got {_kind(value)}")
    text = str(value)
    if "\x00" in text:
        raise BadRecord(field, f"`{field}` contains a NUL character")
    if not _encodable(text):
        # A JSON escape such as "\ud800" gives a lone surrogate: not text any storage can hold.
        raise BadRecord(field, f"`{field}` contains an invalid unicode escape (a lone surrogate)")
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise BadRecord(field, f"`{field}` must be a whole number, got {_kind(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise BadRecord(field, f"`{field}` must be a whole number, got {value!r}")
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise BadRecord(
                field, f"`{field}` must be a whole number, got {_show(value)}") from None
    if not isinstance(value, int):
        raise BadRecord(field, f"`{field}` must be a whole number, got {_kind(value)}")
    if abs(value) > INT64_MAX:
        raise BadRecord(field, f"`{field}` is too large ({str(value)[:30]}…)")
    return value


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise BadRecord(field, f"`{field}` must be true or false, got {_show(value)}")


def _list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):  # CSV cells hold lists as `a;b;c`
        return [part for part in (p.strip() for p in value.split(";")) if part]
    if not isinstance(value, list):
        raise BadRecord(field, f"`{field}` must be a list of text, got {_kind(value)}")
    return [_text(item, f"{field}[{i}]") for i, item in enumerate(value)]


def _reviews(value: Any, field: str, tz: ZoneInfo | None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRecord(field, f"`{field}` must be a list of reviews, got {_kind(value)}")
    out = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise BadRecord(where, f"`{where}` must be an object, got {_kind(item)}")
        out.append({
            "author": None if item.get("author") is None else _text(item["author"], where),
            "submitted_at": parse_timestamp(item.get("submitted_at"), f"{where}.submitted_at", tz),
            "state": None if item.get("state") is None else _text(item["state"], where),
        })
    return out


def convert(entity: str, raw: dict[str, Any], tz: ZoneInfo | None = None) -> dict[str, Any]:
    """A canonical row from `raw`, or `BadRecord` naming the field and the problem."""
    specs = FIELDS[entity]
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        name = display(unknown[0])
        raise BadRecord(name, f"unknown field `{name}` (not in SOURCES.md)")
    row: dict[str, Any] = {}
    for name, spec in specs.items():
        value = raw.get(name)
        if value is None or (isinstance(value, str) and value == "" and spec.kind != "text"):
            if spec.required:
                raise BadRecord(name, f"required field `{name}` is missing")
            row[name] = None
            continue
        if spec.required and isinstance(value, str) and not value.strip():
            raise BadRecord(name, f"required field `{name}` is empty")
        row[name] = _value(spec.kind, value, name, tz)
    _check_rules(entity, row)
    return row


def _value(kind: str, value: Any, name: str, tz: ZoneInfo | None) -> Any:
    if kind == "timestamp":
        return parse_timestamp(value, name, tz)
    if kind == "reviews":
        return _reviews(value, name, tz)
    return {"text": _text, "int": _int, "bool": _bool, "list": _list}[kind](value, name)


def _check_rules(entity: str, row: dict[str, Any]) -> None:
    """Rules across fields (SOURCES.md): each breach names the field it lands on."""
    if entity == "deployments":
        row["status"] = row["status"].strip().lower()
        if row["status"] not in DEPLOYMENT_STATUSES:
            raise BadRecord(
                "status",
                f"unknown status {_show(row['status'])}; expected one of "
                + ", ".join(DEPLOYMENT_STATUSES),
            )
        if row["started_at"] and row["started_at"] > row["finished_at"]:
            raise BadRecord("finished_at", "`finished_at` is before `started_at`")
    elif entity == "incidents":
        row["cause"] = (row["cause"] or "unknown").strip().lower()
        if row["cause"] not in INCIDENT_CAUSES:
            raise BadRecord(
                "cause", f"unknown cause {_show(row['cause'])}; expected one of "
                + ", ".join(INCIDENT_CAUSES),
            )
        if row["resolved_at"] and row["resolved_at"] < row["opened_at"]:
            raise BadRecord("resolved_at", "`resolved_at` is before `opened_at`")
    elif entity == "sli_measurements":
        if row["good"] < 0 or row["total"] < 0:
            raise BadRecord("good", "`good` and `total` must not be negative")
        if row["good"] > row["total"]:
            raise BadRecord(
                "good", f"`good` ({row['good']}) is greater than `total` ({row['total']})")
        if row["window_end"] < row["window_start"]:
            raise BadRecord("window_end", "`window_end` is before `window_start`")
    elif entity == "commits" and row["authored_at"] is None:
        raise BadRecord("authored_at", "required field `authored_at` is missing")


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list",
             dict: "an object", str: "text", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
