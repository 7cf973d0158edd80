"""Files written whole, and files told apart by their stamp.

A small file is written atomically: a reader (another process polling it) sees the old content
or the new, never half of it. A file's stamp (size, modification time, inode) tells whether it
is still the one seen before, without reading it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str | bytes, mode: int | None = None) -> None:
    """Write `text` (str as UTF-8, or bytes) to `path` through a temporary file beside it and
    `os.replace`.

    A failure removes the temporary file and names `path` (a full disk fails the write, whose
    error carries no file name of its own). `mode` sets the permissions (mkstemp gives 0o600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not exc.filename:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def file_stamp(path: Path) -> list[int]:
    """`[size, modification time (ns), inode]` of `path` (OSError when it cannot be read)."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]
