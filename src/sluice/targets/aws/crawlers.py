"""Glue crawlers over sources: a crawler catalogs the files under sources' S3 prefixes into a
Glue database (for Athena and Spectrum users of the raw data). Created, updated when its
role, database, paths or schedule changed, and left alone (no write call) otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sluice.targets.aws.session import AwsSession, aws_errors


@dataclass(frozen=True)
class CrawlerSpec:
    name: str
    role_arn: str
    database: str
    paths: tuple[str, ...]  # s3:// folders
    schedule: str | None = None  # cron(...) expression
    description: str = ""


def crawler_input(spec: CrawlerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": spec.name, "Role": spec.role_arn, "DatabaseName": spec.database,
        "Description": spec.description,
        "Targets": {"S3Targets": [{"Path": p} for p in spec.paths]}}
    if spec.schedule:
        out["Schedule"] = spec.schedule
    return out


def _get(aws: AwsSession, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(aws.client("glue").get_crawler(Name=name)["Crawler"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            return None
        raise


def _same(live: dict[str, Any], spec: CrawlerSpec) -> bool:
    paths = tuple(t.get("Path") for t in live.get("Targets", {}).get("S3Targets", []))
    schedule = (live.get("Schedule") or {}).get("ScheduleExpression") or None
    return (live.get("Role") == spec.role_arn and live.get("DatabaseName") == spec.database
            and paths == spec.paths and schedule == spec.schedule)


def planned(aws: AwsSession, spec: CrawlerSpec) -> str:
    with aws_errors(f"plan crawler {spec.name}"):
        live = _get(aws, spec.name)
    if live is None:
        return "create"
    return "none" if _same(live, spec) else "update"


def deploy_crawler(aws: AwsSession, spec: CrawlerSpec) -> bool:
    """Create, update or leave the crawler; whether anything was written."""
    glue = aws.client("glue")
    with aws_errors(f"deploy crawler {spec.name}"):
        live = _get(aws, spec.name)
        if live is None:
            glue.create_crawler(**crawler_input(spec))
            return True
        if _same(live, spec):
            return False
        wanted = crawler_input(spec)
        if not spec.schedule and live.get("Schedule"):
            wanted["Schedule"] = ""  # an empty expression removes the schedule
        glue.update_crawler(**wanted)
    return True
