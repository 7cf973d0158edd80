"""The product's SQL, one statement per file. Shipped in the wheel as the package `metrics.sql`
(pyproject.toml `package-dir`) and read with `importlib.resources` (`metrics.compute.sql_text`)."""
