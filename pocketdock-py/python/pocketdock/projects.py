"""Projects: a ``.pocketdock/`` directory with ``pocketdock.yaml`` and instance directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from pocketdock import _native
from pocketdock._convert import doctor_report
from pocketdock.types import DoctorReport

PathLike = Union[str, "os.PathLike[str]"]


def find_project_root(start: Optional[PathLike] = None) -> Optional[Path]:
    """The nearest directory at or above ``start`` (default: the current directory) holding
    ``.pocketdock/pocketdock.yaml``, or ``None``."""
    root = _native.find_project_root(None if start is None else os.fspath(start))
    return None if root is None else Path(root)


def init_project(path: Optional[PathLike] = None, *, project_name: Optional[str] = None) -> Path:
    """Create a project at ``path`` (default: the current directory); its root. An existing
    ``pocketdock.yaml`` is kept."""
    return Path(_native.init_project(None if path is None else os.fspath(path), project_name))


async def doctor(
    *, project_root: Optional[PathLike] = None, socket_path: Optional[str] = None
) -> DoctorReport:
    """Compare the project's instance directories with its containers
    (``ProjectNotInitialized`` outside a project)."""
    root = None if project_root is None else os.fspath(project_root)
    t: Any = await _native.doctor(root, socket_path, True)
    return doctor_report(t)


__all__ = ["doctor", "find_project_root", "init_project"]
