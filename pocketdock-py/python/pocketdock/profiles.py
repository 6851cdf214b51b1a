"""Image profiles: named images with a default network setting."""

from __future__ import annotations

import dataclasses

from pocketdock import _native


@dataclasses.dataclass(frozen=True)
class ProfileInfo:
    """One image profile.

    ``dockerfile_dir`` is the build context's name as the Python pocketdock gave it
    (``_images/<name>``); this package builds profiles with the ``pocketdock build`` command,
    whose contexts are built in.
    """

    name: str
    image_tag: str
    dockerfile_dir: str
    network_default: bool
    description: str
    size_estimate: str


def _profile(t: tuple[str, str, bool, str, str]) -> ProfileInfo:
    name, image_tag, network_default, description, size_estimate = t
    return ProfileInfo(
        name=name,
        image_tag=image_tag,
        dockerfile_dir=f"_images/{name}",
        network_default=network_default,
        description=description,
        size_estimate=size_estimate,
    )


PROFILES: dict[str, ProfileInfo] = {p[0]: _profile(p) for p in _native.list_profiles()}


def resolve_profile(name: str) -> ProfileInfo:
    """The profile called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"Unknown profile '{name}'. Known profiles: {known}") from None


def list_profiles() -> list[ProfileInfo]:
    """Every profile, lightest first."""
    return list(PROFILES.values())


__all__ = ["PROFILES", "ProfileInfo", "list_profiles", "resolve_profile"]
