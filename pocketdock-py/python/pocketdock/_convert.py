"""The native layer's plain values as the public dataclasses."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from pocketdock.types import ContainerInfo, ContainerListItem, DoctorReport, ExecResult

ExecTuple = tuple[int, str, str, float, bool, bool]
ListTuple = tuple[str, str, str, str, str, bool, str]


def exec_result(t: ExecTuple) -> ExecResult:
    exit_code, stdout, stderr, duration_ms, timed_out, truncated = t
    return ExecResult(
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        duration_ms=duration_ms,
        timed_out=timed_out,
        truncated=truncated,
    )


def _when(unix: Optional[float]) -> Optional[datetime.datetime]:
    if unix is None:
        return None
    return datetime.datetime.fromtimestamp(unix, tz=datetime.timezone.utc)


def container_info(d: dict[str, Any]) -> ContainerInfo:
    uptime = d["uptime"]
    created = _when(d["created_at"])
    return ContainerInfo(
        id=d["id"],
        name=d["name"],
        status=d["status"],
        image=d["image"],
        created_at=created if created is not None else _epoch(),
        started_at=_when(d["started_at"]),
        uptime=None if uptime is None else datetime.timedelta(seconds=uptime),
        memory_usage=d["memory_usage"],
        memory_limit=d["memory_limit"],
        memory_percent=d["memory_percent"],
        cpu_percent=d["cpu_percent"],
        pids=d["pids"],
        network=d["network"],
        ip_address=d["ip_address"],
        ports=dict(d["ports"]),
        processes=tuple(d["processes"]),
    )


def _epoch() -> datetime.datetime:
    return datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)


def list_item(t: ListTuple) -> ContainerListItem:
    id_, name, status, image, created_at, persist, project = t
    return ContainerListItem(
        id=id_,
        name=name,
        status=status,
        image=image,
        created_at=created_at,
        persist=persist,
        project=project,
    )


def doctor_report(t: tuple[list[str], list[str], int]) -> DoctorReport:
    orphaned, stale, healthy = t
    return DoctorReport(
        orphaned_containers=tuple(orphaned),
        stale_instance_dirs=tuple(stale),
        healthy=healthy,
    )
