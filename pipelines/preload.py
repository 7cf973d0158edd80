"""Imports the whole code location once, for the multiprocess executor's forkserver.

With `start_method: {forkserver: {preload_modules: [pipelines.preload]}}` in a run's executor
config, every step process forks from a server that has already imported Dagster, polars, DuckDB,
PyGithub, SciPy and every module under `pipelines/defs/`, instead of starting a fresh interpreter
that imports them all again (seconds per step; it matters with hundreds of repository steps).
"""

import importlib
import pkgutil

import pipelines.defs

MODULES = sorted(m.name for m in pkgutil.walk_packages(pipelines.defs.__path__, "pipelines.defs."))
for _name in MODULES:
    importlib.import_module(_name)
