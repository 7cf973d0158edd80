"""Faults of the machine, for real: a full disk, read-only folders, a permission denied.

The warehouse folder is a small tmpfs mounted in a private mount namespace (`unshare -m`; these
tests run as root, which CI does), so the faults are the kernel's own: ENOSPC from a filled
file system, EROFS from a read-only one (and EACCES from permission bits, for a root process
stripped of its capabilities). The CLI runs as a subprocess inside that namespace,
once with the fault and once after it is removed (the disk freed, the folder writable again).
Each time: the faulty run exits 1 with one line naming the fault and what to do, no traceback;
readers' published warehouse is untouched; a user's file beside the warehouse keeps its bytes
and mtime; the run after the fault gives the same tables as an uninterrupted run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from faultkit import copy_inputs, table_checksums

if TYPE_CHECKING:
    from faultkit_fixtures import Reference

pytest_plugins = ["faultkit_fixtures"]

NOTES = b"my notes, not the product's\n"
NOTES_MTIME = "2020-01-02 03:04:05"


def _namespace_problem(scratch: Path) -> str | None:
    """Why a private mount namespace with a tmpfs cannot be made here (None: it can)."""
    if shutil.which("unshare") is None:
        return "no `unshare` command"
    scratch.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --make-rprivate / && mount -t tmpfs -o size=1m tmpfs '{scratch}'"],
        capture_output=True, text=True)
    scratch.rmdir()
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()}"
    return None


@pytest.fixture
def org(reference: Reference, tmp_path: Path) -> Path:
    """A copy of the reference input whose `data` folder (landing and warehouse) is an empty
    mount point; the reference run's data folder is copied into it inside the namespace."""
    problem = _namespace_problem(tmp_path / "probe")
    if problem:
        pytest.skip(problem)
    config = copy_inputs(reference.template, tmp_path / "org")
    (config.parent / "data").mkdir()
    (tmp_path / "out").mkdir()
    return config


def in_namespace(config: Path, reference: Reference, body: str, size: str = "64m") -> Path:
    """Run the shell `body` in a private mount namespace where the org's data folder is a tmpfs
    of `size` holding a copy of the reference run's data and the user's notes file. `$RUN NAME
    ARGS…` runs the CLI (output and exit status to $OUT/NAME.*). Returns $OUT."""
    out = config.parent.parent / "out"
    script = f"""
        set -u
        mount --make-rprivate /
        mount -t tmpfs -o size={size} tmpfs "$DATA"
        cp -a "$SOURCE/." "$DATA/"
        printf '%s' "$NOTES" > "$DATA/notes.txt"
        touch -d "$NOTES_MTIME" "$DATA/notes.txt"
        RUN() {{
            name=$1; shift
            "$PY" -m pipelines.cli "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
            echo $? >"$OUT/$name.rc"
        }}
        SAVE() {{ cp "$DATA/dora.duckdb" "$OUT/$1.duckdb"; }}
        {body}
        stat -c '%s %Y' "$DATA/notes.txt" >"$OUT/notes.stat"
        cat "$DATA/notes.txt" >"$OUT/notes.txt"
    """
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DATA": str(config.parent / "data"),
           "SOURCE": str(reference.run / "data"), "OUT": str(out), "PY": sys.executable,
           "CONFIG": str(config), "NOTES": NOTES.decode(), "NOTES_MTIME": NOTES_MTIME,
           "HOME": str(config.parent.parent)}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, cwd=out,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return out


def result(out: Path, name: str) -> tuple[int, str]:
    return int((out / f"{name}.rc").read_text()), (out / f"{name}.err").read_text()


def one_line(err: str, *words: str) -> str:
    """The single line of stderr besides progress (`• …`); it holds every one of `words`."""
    assert "Traceback" not in err and "Stack Trace" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("• ")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def notes_unchanged(out: Path) -> None:
    assert (out / "notes.txt").read_bytes() == NOTES
    size, mtime = (out / "notes.stat").read_text().split()
    stamp = subprocess.run(["date", "-d", NOTES_MTIME, "+%s"], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert (int(size), mtime) == (len(NOTES), stamp)


def test_a_full_disk_is_one_line_and_a_run_after_freeing_it_loses_nothing(
        org: Path, reference: Reference) -> None:
    out = in_namespace(org, reference, """
        dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null   # until the disk is full
        RUN full run --config "$CONFIG"
        SAVE while-full
        rm "$DATA/filler"
        RUN freed run --config "$CONFIG"
        SAVE after
    """)
    code, err = result(out, "full")
    assert code == 1, err
    one_line(err, "run failed: no space left on the disk of", str(org.parent / "data"),
             "free some space there", "then run again")
    # Readers' snapshot is whole and unchanged; the user's file is untouched.
    assert table_checksums(out / "while-full.duckdb") == reference.checksums
    notes_unchanged(out)
    code, err = result(out, "freed")
    assert code == 0, err
    assert table_checksums(out / "after.duckdb") == reference.checksums


def test_read_only_folders_are_one_line_and_a_run_after_loses_nothing(
        org: Path, reference: Reference) -> None:
    """The warehouse folder read-only for a run, then the reports folder for `report`."""
    reports = org.parent / "reports"
    out = in_namespace(org, reference, f"""
        mount -o remount,ro "$DATA"
        RUN ro run --config "$CONFIG"
        SAVE while-ro
        mount -o remount,rw "$DATA"
        RUN rw run --config "$CONFIG"
        SAVE after
        mkdir -p '{reports}'
        mount -t tmpfs -o size=1m,ro tmpfs '{reports}'
        RUN report-ro report --config "$CONFIG"
        umount '{reports}'
        RUN report-rw report --config "$CONFIG"
    """)
    code, err = result(out, "ro")
    assert code == 1, err
    one_line(err, "run failed: cannot write", str(org.parent / "data"), "read-only",
             "make it writable or point the config elsewhere")
    assert table_checksums(out / "while-ro.duckdb") == reference.checksums
    notes_unchanged(out)
    code, err = result(out, "rw")
    assert code == 0, err
    assert table_checksums(out / "after.duckdb") == reference.checksums

    code, err = result(out, "report-ro")
    assert code == 1, err
    one_line(err, "report failed: cannot write", str(reports), "read-only")
    code, err = result(out, "report-rw")
    assert code == 0, err
    assert (reports / "index.html").is_file()


def test_a_folder_without_write_permission_is_one_line_and_a_run_after_loses_nothing(
        reference: Reference, tmp_path: Path) -> None:
    """Root ignores permission bits, so the faulty run is root without any capability
    (`setpriv --bounding-set=-all`): the kernel then checks the bits as for any user, and the
    warehouse folder and files, made read-only for everyone, give EACCES."""
    if shutil.which("setpriv") is None:
        pytest.skip("no `setpriv` command")
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o555)
    denied = subprocess.run(["setpriv", "--bounding-set=-all", "--", "touch", str(probe / "x")],
                            capture_output=True)
    if denied.returncode == 0 or (probe / "x").exists():
        pytest.skip("dropping every capability does not make permission bits count here")
    config = copy_inputs(reference.template, tmp_path / "org")
    data = config.parent / "data"
    shutil.copytree(reference.run / "data", data)
    notes = data / "notes.txt"
    notes.write_bytes(NOTES)
    before = notes.stat()
    for path in data.iterdir():
        path.chmod(0o555 if path.is_dir() else 0o444)
    data.chmod(0o555)
    try:
        done = subprocess.run(
            ["setpriv", "--bounding-set=-all", "--", sys.executable, "-m", "pipelines.cli",
             "run", "--config", str(config)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        one_line(done.stderr, "run failed: permission denied on", str(data),
                 "give this user write access there or point the config elsewhere")
        assert table_checksums(data / "dora.duckdb") == reference.checksums
    finally:
        data.chmod(0o755)
        for path in data.iterdir():
            path.chmod(0o755 if path.is_dir() else 0o644)
    after = notes.stat()
    assert notes.read_bytes() == NOTES and after.st_mtime_ns == before.st_mtime_ns
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--config",
                           str(config)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert table_checksums(data / "dora.duckdb") == reference.checksums
