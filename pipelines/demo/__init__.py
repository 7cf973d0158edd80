"""A seeded generator of a realistic demo organisation in the event-file format."""

from pipelines.demo.generator import OrgShape, generate_org, org_config, team_trends, write_demo

__all__ = ["OrgShape", "generate_org", "org_config", "team_trends", "write_demo"]
