"""The report page templates (Jinja, autoescaped) and their stylesheet and script."""
