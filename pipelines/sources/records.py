"""Turning one outside record (a dict of raw values) into a canonical row, or a reason it is bad.

Shared by every source that reads loosely typed input (event files, JSON exports). One pydantic
model per entity declares its fields; each field has a kind (text, int, bool, timestamp, list,
reviews), and a value of the wrong kind is reported with the field's name and what was wrong, in
words. The bulk reader of event files (`pipelines.sources.bulk`) derives its checks from the same
declarations and sends only the rows it cannot vouch for here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

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
        parts = [part for part in (p.strip() for p in value.split(";")) if part]
        return [_text(part, f"{field}[{i}]") for i, part in enumerate(parts)]
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


# ---- the entity models --------------------------------------------------------------------------


def _issue(field: str | None, reason: str) -> PydanticCustomError:
    """A validation error carrying the field and the reason users see, word for word."""
    return PydanticCustomError("bad_record", "{reason}", {"field": field, "reason": reason})


def _kind_of(kind: str, required: bool) -> Any:
    """The validator of a field of `kind`: nulls, blanks and requiredness, then the kind."""

    def check(value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if value is None or (isinstance(value, str) and value == "" and kind != "text"):
            if required:
                raise _issue(name, f"required field `{name}` is missing")
            return None
        if required and isinstance(value, str) and not value.strip():
            raise _issue(name, f"required field `{name}` is empty")
        tz = (info.context or {}).get("tz")
        try:
            if kind == "timestamp":
                return parse_timestamp(value, name, tz)
            if kind == "reviews":
                return _reviews(value, name, tz)
            return {"text": _text, "int": _int, "bool": _bool, "list": _list}[kind](value, name)
        except BadRecord as exc:
            raise _issue(exc.field, exc.reason) from None

    return check


@dataclass(frozen=True)
class FieldSpec:
    """How a field is read: its kind (text, int, bool, timestamp, list, reviews) and whether
    it is required."""

    kind: str
    required: bool = False


def _field(kind: str, required: bool = False) -> Any:
    return Annotated[Any, FieldSpec(kind, required), BeforeValidator(_kind_of(kind, required))]


Text, ReqText = _field("text"), _field("text", True)
Int, ReqInt = _field("int"), _field("int", True)
Bool = _field("bool")
Timestamp, ReqTimestamp = _field("timestamp"), _field("timestamp", True)
TextList = _field("list")


class _Record(BaseModel):
    """An event-file record; unknown fields are refused, naming the first."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, raw: Any) -> Any:
        unknown = sorted(set(raw) - set(cls.model_fields))
        if unknown:
            name = display(unknown[0])
            raise _issue(name, f"unknown field `{name}` (not in docs/config.md)")
        return raw


class Commit(_Record):
    """A `commits` record."""

    repo: ReqText
    sha: ReqText
    parents: TextList = None
    authored_at: ReqTimestamp
    committed_at: ReqTimestamp
    author: Text = None
    message: Text = None
    files: TextList = None


class PullRequest(_Record):
    """A `pull_requests` record."""

    repo: ReqText
    number: ReqInt
    title: Text = None
    author: Text = None
    author_is_bot: Bool = None
    created_at: ReqTimestamp
    merged_at: Timestamp = None
    closed_at: Timestamp = None
    base_branch: Text = None
    merge_commit_sha: Text = None
    commit_shas: TextList = None
    reviews: _field("reviews") = None  # type: ignore[valid-type]
    labels: TextList = None
    files: TextList = None


class Deployment(_Record):
    """A `deployments` record: a known status, and not finished before it started."""

    id: ReqText
    service: ReqText
    environment: ReqText
    revision: ReqText
    started_at: Timestamp = None
    finished_at: ReqTimestamp
    status: ReqText
    rollback_of: Text = None
    fix_for: Text = None
    labels: TextList = None

    @model_validator(mode="after")
    def _rules(self) -> Deployment:
        self.status = self.status.strip().lower()
        if self.status not in DEPLOYMENT_STATUSES:
            raise _issue("status", f"unknown status {_show(self.status)}; expected one of "
                         + ", ".join(DEPLOYMENT_STATUSES))
        if self.started_at and self.started_at > self.finished_at:
            raise _issue("finished_at", "`finished_at` is before `started_at`")
        return self


class Incident(_Record):
    """An `incidents` record: a known cause (default `unknown`), not resolved before opened."""

    id: ReqText
    service: ReqText
    title: Text = None
    opened_at: ReqTimestamp
    resolved_at: Timestamp = None
    severity: Text = None
    cause: Text = None
    deployment_id: Text = None
    commit_sha: Text = None

    @model_validator(mode="after")
    def _rules(self) -> Incident:
        self.cause = (self.cause or "unknown").strip().lower()
        if self.cause not in INCIDENT_CAUSES:
            raise _issue("cause", f"unknown cause {_show(self.cause)}; expected one of "
                         + ", ".join(INCIDENT_CAUSES))
        if self.resolved_at and self.resolved_at < self.opened_at:
            raise _issue("resolved_at", "`resolved_at` is before `opened_at`")
        return self


class SliMeasurement(_Record):
    """An `sli` record: `good` ≤ `total`, neither negative, a window that does not end first."""

    slo: ReqText
    window_start: ReqTimestamp
    window_end: ReqTimestamp
    good: ReqInt
    total: ReqInt

    @model_validator(mode="after")
    def _rules(self) -> SliMeasurement:
        if self.good < 0 or self.total < 0:
            raise _issue("good", "`good` and `total` must not be negative")
        if self.good > self.total:
            raise _issue("good", f"`good` ({self.good}) is greater than `total` ({self.total})")
        if self.window_end < self.window_start:
            raise _issue("window_end", "`window_end` is before `window_start`")
        return self


MODELS: dict[str, type[_Record]] = {
    "commits": Commit, "pull_requests": PullRequest, "deployments": Deployment,
    "incidents": Incident, "sli_measurements": SliMeasurement,
}
# Each entity's fields and how they are read, derived from the models (the one declaration).
FIELDS: dict[str, dict[str, FieldSpec]] = {
    entity: {name: next(m for m in info.metadata if isinstance(m, FieldSpec))
             for name, info in model.model_fields.items()}
    for entity, model in MODELS.items()
}


def convert(entity: str, raw: dict[str, Any], tz: ZoneInfo | None = None) -> dict[str, Any]:
    """A canonical row from `raw`, or `BadRecord` naming the field and the problem."""
    try:
        record = MODELS[entity].model_validate(raw, context={"tz": tz})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "missing":
            name = str(first["loc"][0])
            raise BadRecord(name, f"required field `{name}` is missing") from None
        ctx = first.get("ctx") or {}
        raise BadRecord(ctx.get("field"), ctx.get("reason", first["msg"])) from None
    return record.model_dump()


def _kind(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list",
             dict: "an object", str: "text", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
