"""Sources: each module knows one outside world and lands canonical records (see base.py)."""
