"""Dagster definitions (loaded by pipelines.definitions)."""
