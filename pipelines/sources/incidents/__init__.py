"""Incident and SLO sources where teams keep them: PagerDuty, Jira, CDEvents, Prometheus/OpenSLO."""
