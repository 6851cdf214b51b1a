//! Image profiles: named, pre-configured sandbox images.
//!
//! A profile names an image tag, the folder of its build context and whether the sandbox gets a
//! network by default. The six profiles and their order are those of the Python pocketdock, so
//! `pocketdock profiles --json` prints the same objects.
//!
//! Unlike the Python pocketdock, `network_default` is applied: a container created from a profile
//! whose `network_default` is `false` runs with `NetworkMode: none` unless the caller asks for a
//! network (see [`crate::spec::ContainerSpec`]).
//!
//! `dockerfile_dir` is relative to the root of the pocketdock repository (`images/<name>`), where
//! the build contexts of this implementation live; the Python package used `_images/<name>` inside
//! its wheel.

use serde::Serialize;

use crate::error::{Error, Result};

/// One image profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProfileInfo {
    /// Profile name, e.g. `minimal-python`.
    pub name: &'static str,
    /// Image tag the profile builds and runs, e.g. `pocketdock/minimal-python`.
    pub image_tag: &'static str,
    /// Build context folder, relative to the repository root (`images/<name>`).
    pub dockerfile_dir: &'static str,
    /// Whether containers of this profile get a network unless told otherwise.
    pub network_default: bool,
    /// One-line human description.
    pub description: &'static str,
    /// Rough image size, e.g. `~25MB`.
    pub size_estimate: &'static str,
}

/// The profiles, in the Python pocketdock's order.
const PROFILES: [ProfileInfo; 6] = [
    ProfileInfo {
        name: "minimal-python",
        image_tag: "pocketdock/minimal-python",
        dockerfile_dir: "images/minimal-python",
        network_default: false,
        description: "Lightest sandbox \u{2014} Python 3, bash, busybox (~25 MB)",
        size_estimate: "~25MB",
    },
    ProfileInfo {
        name: "minimal-node",
        image_tag: "pocketdock/minimal-node",
        dockerfile_dir: "images/minimal-node",
        network_default: false,
        description: "Node.js sandbox \u{2014} Node 22, npm, bash (~60 MB)",
        size_estimate: "~60MB",
    },
    ProfileInfo {
        name: "minimal-bun",
        image_tag: "pocketdock/minimal-bun",
        dockerfile_dir: "images/minimal-bun",
        network_default: false,
        description: "Bun sandbox \u{2014} Bun runtime, bash (~100 MB)",
        size_estimate: "~100MB",
    },
    ProfileInfo {
        name: "dev",
        image_tag: "pocketdock/dev",
        dockerfile_dir: "images/dev",
        network_default: true,
        description:
            "Interactive dev sandbox \u{2014} git, curl, vim, build tools, ipython (~250 MB)",
        size_estimate: "~250MB",
    },
    ProfileInfo {
        name: "agent",
        image_tag: "pocketdock/agent",
        dockerfile_dir: "images/agent",
        network_default: false,
        description: "Agent sandbox \u{2014} requests, pandas, numpy, beautifulsoup4 (~350 MB)",
        size_estimate: "~350MB",
    },
    ProfileInfo {
        name: "embedded",
        image_tag: "pocketdock/embedded",
        dockerfile_dir: "images/embedded",
        network_default: true,
        description:
            "C/C++ toolchain \u{2014} GCC, CMake, ARM cross-compiler, Arduino CLI (~450 MB)",
        size_estimate: "~450MB",
    },
];

/// The name of the profile used when none is given.
pub const DEFAULT_PROFILE: &str = "minimal-python";

/// Every profile, in the Python pocketdock's order (`minimal-python` first).
pub fn list_profiles() -> Vec<ProfileInfo> {
    PROFILES.to_vec()
}

/// The profile called `name` (exact, case-sensitive match).
///
/// An unknown name gives [`Error::InvalidInput`] with `field: "profile"` whose reason lists the
/// known profiles in alphabetical order, as the Python pocketdock does.
pub fn resolve_profile(name: &str) -> Result<ProfileInfo> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .copied()
        .ok_or_else(|| {
            let mut known: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
            known.sort_unstable();
            Error::invalid(
                "profile",
                format!(
                    "Unknown profile {name:?}. Known profiles: {}",
                    known.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_profiles_in_reference_order() {
        let names: Vec<&str> = list_profiles().iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "minimal-python",
                "minimal-node",
                "minimal-bun",
                "dev",
                "agent",
                "embedded"
            ]
        );
    }

    #[test]
    fn resolves_each_profile() {
        let table: [(&str, &str, bool, &str); 6] = [
            (
                "minimal-python",
                "pocketdock/minimal-python",
                false,
                "~25MB",
            ),
            ("minimal-node", "pocketdock/minimal-node", false, "~60MB"),
            ("minimal-bun", "pocketdock/minimal-bun", false, "~100MB"),
            ("dev", "pocketdock/dev", true, "~250MB"),
            ("agent", "pocketdock/agent", false, "~350MB"),
            ("embedded", "pocketdock/embedded", true, "~450MB"),
        ];
        for (name, tag, net, size) in table {
            let p = resolve_profile(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
            assert_eq!(p.image_tag, tag);
            assert_eq!(p.network_default, net, "{name}");
            assert_eq!(p.size_estimate, size);
            assert_eq!(p.dockerfile_dir, format!("images/{name}"));
            assert!(p.description.contains('\u{2014}'), "{name}");
        }
        assert_eq!(
            resolve_profile(DEFAULT_PROFILE).map(|p| p.image_tag).ok(),
            Some("pocketdock/minimal-python")
        );
    }

    #[test]
    fn unknown_profiles_are_refused_with_the_known_list() {
        for bad in ["", "nope", "Dev", " dev", "minimal_python", "dev\n"] {
            match resolve_profile(bad) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!(field, "profile");
                    assert!(reason.contains(
                        "Known profiles: agent, dev, embedded, minimal-bun, minimal-node, minimal-python"
                    ), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn serializes_with_reference_keys() {
        let v = serde_json::to_value(resolve_profile("dev").unwrap()).unwrap();
        let mut keys: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            [
                "description",
                "dockerfile_dir",
                "image_tag",
                "name",
                "network_default",
                "size_estimate"
            ]
        );
        assert_eq!(v["network_default"], serde_json::json!(true));
    }
}
