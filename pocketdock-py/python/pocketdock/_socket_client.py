"""The few engine calls the Python pocketdock's private socket client offered and code (its
integration tests among them) imports from here, as thin aliases onto this package's engine
client. New code should use the public API."""

from __future__ import annotations

from typing import Any, Optional

from pocketdock import _native


def detect_socket() -> Optional[str]:
    """The engine socket: ``POCKETDOCK_SOCKET``, else the first Podman or Docker socket that
    accepts a connection; ``None`` when there is none."""
    return _native.detect_socket()


async def list_containers(
    socket_path: str, label_filter: Optional[str] = None
) -> list[dict[str, Any]]:
    """The engine's container list (stopped ones included), rows with the engine's keys
    (``Id``, ``Names``, ``Image``, ``State``, ``Status``, ``Labels``, ``Created``), only those
    carrying the label ``label_filter`` (``key=value``) when given."""
    labels = [] if label_filter is None else [label_filter]
    rows: Any = await _native.list_raw(socket_path, labels, True)
    return list(rows)


async def remove_container(socket_path: str, container_id: str, *, force: bool = False) -> None:
    """Remove a container by id or engine name."""
    await _native.remove_container(socket_path, container_id, force, True)


async def stop_container(socket_path: str, container_id: str) -> None:
    """Stop a pocketdock container by id or name."""
    await _native.stop_container(container_id, socket_path, True)


__all__ = ["detect_socket", "list_containers", "remove_container", "stop_container"]
