"""Persistent containers, async: resume, list, stop, destroy, prune.

``socket_path=None`` means the default engine (``POCKETDOCK_SOCKET``, the project's ``socket:``,
auto-detection). Containers are found by their pocketdock name.
"""

from __future__ import annotations

from typing import Any, Optional

from pocketdock import _native
from pocketdock._async_container import AsyncContainer
from pocketdock._convert import list_item
from pocketdock.types import ContainerListItem


async def resume_container(
    name: str, *, socket_path: Optional[str] = None, timeout: int = 30
) -> AsyncContainer:
    """A handle on the container ``name``, started first if it is stopped."""
    native: Any = await _native.resume_container(name, socket_path, float(timeout), True)
    return AsyncContainer(native)


async def list_containers(
    *, socket_path: Optional[str] = None, project: Optional[str] = None
) -> list[ContainerListItem]:
    """The pocketdock containers, stopped ones included; only ``project``'s when given."""
    items: Any = await _native.list_containers(socket_path, project, True)
    return [list_item(t) for t in items]


async def stop_container(name: str, *, socket_path: Optional[str] = None) -> None:
    """Stop the container ``name`` without removing it."""
    await _native.stop_container(name, socket_path, True)


async def destroy_container(name: str, *, socket_path: Optional[str] = None) -> None:
    """Remove the container ``name`` and its instance directory (only when its label names a
    real instance directory of this container)."""
    await _native.destroy_container(name, socket_path, True)


async def prune(*, socket_path: Optional[str] = None, project: Optional[str] = None) -> int:
    """Remove the stopped pocketdock containers (only ``project``'s when given); how many."""
    n: Any = await _native.prune(socket_path, project, True)
    return int(n)


__all__ = [
    "destroy_container",
    "list_containers",
    "prune",
    "resume_container",
    "stop_container",
]
