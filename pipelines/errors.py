"""Failures a user can cause or meet, told in one line: what happened and what to do.

`UserError` is raised where the product knows what went wrong (a busy, missing or damaged
warehouse, a refused reports folder). `describe` turns any other exception, including the OS and
DuckDB errors under a failed Dagster step, into such a line: a full disk, a read-only folder, a
permission, a damaged file. The CLI prints that line and exits non-zero; the traceback is shown
only with `--verbose`.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator

from pipelines.config import ConfigError

log = logging.getLogger("pipelines")


class UserError(Exception):
    """A failure the user can act on; the message is one line: what happened, what to do."""


def notice(message: str) -> None:
    """Tell the user, in one line, something the product did for them (e.g. a repair)."""
    log.warning(message)


# What DuckDB (or the OS, in words) says for each fault, and the errno a Python OSError carries.
_DISK_FULL = ({errno.ENOSPC, errno.EDQUOT}, ("No space left on device", "Disk quota exceeded"))
_READ_ONLY = ({errno.EROFS}, ("Read-only file system",))
_DENIED = ({errno.EACCES, errno.EPERM}, ("Permission denied", "Operation not permitted"))
DAMAGED_SIGNS = ("not a valid DuckDB database file", "Could not read enough bytes",
                 "Corrupt database file", "checksum")
LOCK_SIGNS = ("Could not set lock", "Conflicting lock")
_QUOTED_PATH = re.compile(r'"(/[^"]+)"')
MAX_LINE = 1000


def describe(exc: BaseException) -> str:
    """One line for `exc`: what happened and what to do (the most specific cause wins)."""
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, UserError | ConfigError):  # a config error's problems, one line
            return printable(str(item))
    for (codes, signs), what in ((_DISK_FULL, _disk_full), (_READ_ONLY, _read_only),
                                 (_DENIED, _denied)):
        for item in chain:
            if _is(item, codes, signs):
                return printable(what(_where(item)))
    for item in chain:
        if _is_duckdb(item) and any(sign in str(item) for sign in DAMAGED_SIGNS):
            return printable(_damaged(_where(item), _first_line(item)))
        if _is_duckdb(item) and any(sign in str(item) for sign in LOCK_SIGNS):
            return printable(f"the warehouse {_where(item)} is in use by another process: "
                             "wait for it to finish or close it, then run again")
    inner = next((i for i in chain if not _is_dagster_wrapper(i)), exc)
    if isinstance(inner, FileNotFoundError | NotADirectoryError):
        return printable(f"{_first_line(inner)}: fix the path in the config, then run again")
    return printable(f"{_first_line(inner)} (run again with --verbose for the details)")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it (Dagster's wrapped user exception, causes, contexts)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "user_exception", None), item.__cause__, item.__context__]


def _is(exc: BaseException, codes: set[int], signs: tuple[str, ...]) -> bool:
    if isinstance(exc, OSError) and exc.errno in codes:
        return True
    return _is_duckdb(exc) and any(sign in str(exc) for sign in signs)


def _is_duckdb(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0].lstrip("_") == "duckdb"


def _is_dagster_wrapper(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("dagster") and getattr(exc, "user_exception", None)


def _where(exc: BaseException) -> str:
    """The file an error is about, when it says."""
    if isinstance(exc, OSError) and exc.filename:
        return str(exc.filename)
    found = _QUOTED_PATH.search(str(exc))
    return found.group(1) if found else "the warehouse, landing or reports folder"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _disk_full(where: str) -> str:
    return (f"no space left on the disk of {where}: free some space there (the warehouse "
            "needs about three times its size while publishing), then run again")


def _read_only(where: str) -> str:
    return (f"cannot write {where}: its file system is read-only; make it writable or point "
            "the config elsewhere, then run again")


def _denied(where: str) -> str:
    return (f"permission denied on {where}: give this user write access there or point the "
            "config elsewhere, then run again")


def _damaged(where: str, reason: str) -> str:
    if where.endswith(".working"):
        return (f"the warehouse working copy {where} is damaged ({reason}): delete it, then "
                "run again; it is rebuilt from the landing")
    return (f"the warehouse file {where} is damaged ({reason}): run `dora-pipeline run` "
            "again; it rebuilds the warehouse from the landing")


def printable(text: str) -> str:
    """`text` as one printable line of at most MAX_LINE characters."""
    line = " ".join(text.split())
    if not line.isprintable():
        line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
