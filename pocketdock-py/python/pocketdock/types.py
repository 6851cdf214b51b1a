"""The values pocketdock returns: frozen dataclasses with the Python pocketdock's fields."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What a command produced.

    ``exit_code`` is -1 when pocketdock stopped the command (timeout, output cap) or its exit
    code could not be known. On a timeout the command's whole process tree was killed and
    ``stdout``/``stderr`` hold the output collected until then.
    """

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the command exited with 0 and did not time out."""
        return self.exit_code == 0 and not self.timed_out


@dataclasses.dataclass(frozen=True)
class ContainerInfo:
    """A live snapshot of a container."""

    id: str
    name: str
    status: str
    image: str
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime] = None
    uptime: Optional[datetime.timedelta] = None
    memory_usage: str = ""
    memory_limit: str = ""
    memory_percent: float = 0.0
    cpu_percent: float = 0.0
    pids: int = 0
    network: bool = False
    ip_address: str = ""
    ports: dict[int, int] = dataclasses.field(default_factory=dict)
    processes: tuple[dict[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class StreamChunk:
    """One piece of a streamed command's output; ``stream`` is ``"stdout"`` or ``"stderr"``."""

    stream: str
    data: str


@dataclasses.dataclass(frozen=True)
class ContainerListItem:
    """One pocketdock container as listed (``id`` is the 12-character short id)."""

    id: str
    name: str
    status: str
    image: str
    created_at: str
    persist: bool
    project: str = ""


@dataclasses.dataclass(frozen=True)
class DoctorReport:
    """A project's instance directories compared with its containers."""

    orphaned_containers: tuple[str, ...]
    stale_instance_dirs: tuple[str, ...]
    healthy: int


@dataclasses.dataclass(frozen=True)
class BufferSnapshot:
    """The output a detached process has buffered."""

    stdout: str
    stderr: str


__all__ = [
    "BufferSnapshot",
    "ContainerInfo",
    "ContainerListItem",
    "DoctorReport",
    "ExecResult",
    "StreamChunk",
]
