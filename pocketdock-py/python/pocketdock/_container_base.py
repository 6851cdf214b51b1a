"""What the sync ``Container`` and the async ``AsyncContainer`` share: the native handle, its
properties, the callbacks of detached processes, and the arguments of a command."""

from __future__ import annotations

import weakref
from typing import Any, Callable, Optional, TypeVar, Union

from pocketdock import _native
from pocketdock.profiles import resolve_profile

DEFAULT_IMAGE = "pocketdock/minimal-python"
DEFAULT_MAX_OUTPUT = 10 * 1024 * 1024

_Self = TypeVar("_Self", bound="ContainerBase")


class ContainerBase:
    """A sandbox handle. Made by ``create_new_container`` or ``resume_container``."""

    def __init__(self, native: _native.NativeContainer) -> None:
        self._native = native
        self._closed = False
        self._closables: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def container_id(self) -> str:
        """The full engine id (a fresh reboot changes it)."""
        return self._native.id

    @property
    def socket_path(self) -> str:
        """The engine socket."""
        return self._native.socket_path

    @property
    def name(self) -> str:
        """The pocketdock name (also the engine's container name)."""
        return self._native.name

    @property
    def persist(self) -> bool:
        """Whether ``shutdown`` keeps the container (stopped) instead of removing it."""
        return self._native.persist

    @property
    def project(self) -> str:
        """The project name, ``""`` if none."""
        return self._native.project

    @property
    def data_path(self) -> str:
        """The instance directory, ``""`` if none."""
        return self._native.data_path

    def on_stdout(self: _Self, fn: Callable[[_Self, str], Any]) -> None:
        """Call ``fn(container, text)`` with the stdout of every detached process."""
        self._native.on_stdout(_bound(self, fn))

    def on_stderr(self: _Self, fn: Callable[[_Self, str], Any]) -> None:
        """Call ``fn(container, text)`` with the stderr of every detached process."""
        self._native.on_stderr(_bound(self, fn))

    def on_exit(self: _Self, fn: Callable[[_Self, int], Any]) -> None:
        """Call ``fn(container, exit_code)`` when a detached process exits."""
        self._native.on_exit(_bound(self, fn))

    def _close_all(self) -> None:
        """Stop the streams and sessions opened on this handle (before a shutdown)."""
        for item in list(self._closables):
            item._close()
        self._closables.clear()


_T = TypeVar("_T")


def _bound(container: _Self, fn: Callable[[_Self, _T], Any]) -> Callable[[_T], None]:
    """``fn`` with the container as its first argument, without the native handle keeping the
    container alive (the callback lives in Rust, out of the garbage collector's sight)."""
    ref = weakref.ref(container)

    def call(value: _T) -> None:
        c = ref()
        if c is not None:
            fn(c, value)

    return call


# Podman 4.3 answers `/top` without `ps_args` by running `ps` inside the container, and gives
# nothing when the image has no `ps`. Then `info()` lists the processes from /proc with this
# script (the shell running it and its own children left out), in the columns of `ps -ef`.
PROCESS_LIST = r"""
me=$$
for d in /proc/[0-9]*; do
  pid=${d#/proc/}; [ "$pid" = "$me" ] && continue
  uid=; ppid=
  while read -r k v _; do
    case $k in Uid:) uid=$v;; PPid:) ppid=$v;; esac
  done < "$d/status" 2>/dev/null
  [ "$ppid" = "$me" ] && continue
  cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)
  [ -n "$cmd" ] && printf '%s\t%s\t%s\t%s\n' "$uid" "$pid" "$ppid" "${cmd% }"
done
"""


def parse_processes(listing: str) -> tuple[dict[str, str], ...]:
    """The rows of :data:`PROCESS_LIST`'s output."""
    rows = []
    for line in listing.splitlines():
        fields = line.split("\t", 3)
        if len(fields) == 4:
            rows.append(dict(zip(("UID", "PID", "PPID", "CMD"), fields)))
    return tuple(rows)


def check_modes(stream: bool, detach: bool) -> None:
    if stream and detach:
        msg = "stream and detach are mutually exclusive"
        raise ValueError(msg)


def create_args(
    *,
    image: str,
    name: Optional[str],
    mem_limit: Optional[str],
    cpu_percent: Optional[int],
    persist: bool,
    volumes: Optional[dict[str, str]],
    project: Optional[str],
    profile: Optional[str],
    devices: Optional[list[str]],
    ports: Optional[dict[int, int]],
    network: Union[bool, str, None],
) -> _native.CreateArgs:
    """The native arguments of ``create_new_container``.

    The default image gives way to the profile's image, and, with neither given, to the
    project's ``default_profile``. ``network``: ``True`` is the engine's bridge network,
    ``False`` none, a string an engine network mode or name; ``None`` lets the profile decide
    (and publishing ports turns it on).
    """
    if profile is not None:
        resolve_profile(profile)
    return _native.CreateArgs(
        None if image == DEFAULT_IMAGE else image,
        name,
        mem_limit,
        cpu_percent or None,
        persist,
        list((volumes or {}).items()),
        project,
        profile,
        list(devices or []),
        list((ports or {}).items()),
        {True: "bridge", False: "none"}.get(network) if isinstance(network, bool) else network,
    )
