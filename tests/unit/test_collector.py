"""The cycle collector's pause and freeze (pipelines/collector.py) always give it back."""

from __future__ import annotations

import gc
import weakref

import pytest

from pipelines import collector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_paused_turns_it_off_and_back_on_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        assert not gc.isenabled()
        raise RuntimeError("body failed")
    assert gc.isenabled()


def test_paused_leaves_it_off_when_it_was_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_frozen_objects_are_out_of_the_passes_and_given_back_after_an_error() -> None:
    assert gc.get_freeze_count() == 0
    before = _Cycle()
    made_before = weakref.ref(before)
    del before
    with pytest.raises(RuntimeError), collector.imports_frozen():
        assert gc.get_freeze_count() > 0
        during = _Cycle()
        made_during = weakref.ref(during)
        del during
        gc.collect()
        # A cycle made inside the block is collected as usual; one made before is frozen.
        assert made_during() is None
        assert made_before() is not None
        raise RuntimeError("body failed")
    assert gc.get_freeze_count() == 0
    gc.collect()  # given back: the old cycle is garbage like any other now
    assert made_before() is None


def test_the_command_exits_with_mains_code_and_still_runs_the_exit_handlers(tmp_path) -> None:
    """`dora-pipeline` (cli.command) freezes every object before the interpreter shuts down,
    to skip its last collector passes; the exit code is still main's, and `atexit` handlers
    (log and console flushing, temporary folders) still run, with the freeze in place."""
    import subprocess
    import sys

    script = (
        "import atexit, gc, sys\n"
        "from pipelines.cli import command\n"
        "atexit.register(lambda: print('exit handler ran, frozen:', gc.get_freeze_count() > 0))\n"
        f"sys.argv = ['dora-pipeline', 'check', '--config', {str(tmp_path / 'none.yaml')!r}]\n"
        "sys.exit(command())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stderr  # a config that is not there: main says 2
    assert "none.yaml" in done.stderr
    assert done.stdout.strip() == "exit handler ran, frozen: True"
