//! `instance.toml`: what pocketdock knows about one persistent instance.
//!
//! Same sections and keys as the Python pocketdock, plus the `profile` and `network` keys in
//! `[container]` and a `[volumes]` table, so files written by either side read on the other.
//! Unlike the Python pocketdock, the file is written by the `toml` crate: strings are escaped, so
//! quotes or backslashes in argv or an image name give valid TOML.
//!
//! ```toml
//! # Maintained by pocketdock. Do not edit.
//!
//! [container]
//! id = "<container id>"          # "(pending)" before the container exists
//! name = "<name>"
//! image = "<image>"
//! project = "<project>"
//! created_at = "<UTC iso>"
//! persist = true                 # always written; other keys only when not empty
//! profile = "minimal-python"     # optional
//! network = false                # optional
//!
//! [resources]                    # only if mem_limit or cpu_percent is set
//! mem_limit = "256m"
//! cpu_percent = 50
//!
//! [ports]                        # only if there are ports; host port = container port
//! 8080 = 80
//!
//! [volumes]                      # only if there are volumes; host path = container path
//! "/host/dir" = "/in/container"
//!
//! [provenance]
//! created_by = "pocketdock create --persist"
//! pid = 12345
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The comment at the top of every `instance.toml`.
pub const HEADER: &str = "# Maintained by pocketdock. Do not edit.\n";

/// The container id written before the container exists.
pub const PENDING_ID: &str = "(pending)";

/// Contents of `instance.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceMetadata {
    /// `[container]`.
    #[serde(default)]
    pub container: ContainerSection,
    /// `[resources]`, written only when something is set.
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// `[ports]`: host port to container port.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "port_map")]
    pub ports: BTreeMap<u16, u16>,
    /// `[volumes]`: host path to container path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, String>,
    /// `[provenance]`.
    #[serde(default)]
    pub provenance: Provenance,
}

/// The `[container]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSection {
    /// Engine container id ([`PENDING_ID`] before it exists).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// pocketdock instance name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Image reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Project name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Creation time, ISO 8601 UTC.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// Whether the container survives shutdown (always written).
    #[serde(default)]
    pub persist: bool,
    /// Image profile the instance was created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Whether networking was enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
}

/// The `[resources]` section: the limits as the user gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit string (e.g. `"256m"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<String>,
    /// CPU limit in percent of one CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<u32>,
}

impl Resources {
    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        self.mem_limit.is_none() && self.cpu_percent.is_none()
    }
}

/// The `[provenance]` section: who created the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The creating command line (argv joined with spaces).
    #[serde(default)]
    pub created_by: String,
    /// The creating process id.
    #[serde(default)]
    pub pid: u32,
}

impl InstanceMetadata {
    /// The file text: the header comment, a blank line, then the sections.
    pub fn to_toml(&self) -> Result<String> {
        let body = toml::to_string(self).map_err(|e| Error::Config {
            path: "instance.toml".to_string(),
            detail: format!("cannot format: {e}"),
        })?;
        Ok(format!("{HEADER}\n{body}"))
    }

    /// Parse a file's text; `origin` (its path) is used in errors. Unknown keys are ignored;
    /// missing sections and keys take their defaults.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config {
            path: origin.to_string(),
            detail: format!("invalid instance metadata: {e}"),
        })
    }
}

/// `[ports]` keys are TOML keys (strings) holding host port numbers.
mod port_map {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &BTreeMap<u16, u16>, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(map.len()))?;
        for (host, container) in map {
            m.serialize_entry(&host.to_string(), container)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u16, u16>, D::Error> {
        let raw = BTreeMap::<String, u16>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                k.parse::<u16>()
                    .map(|k| (k, v))
                    .map_err(|_| D::Error::custom(format!("port {k:?} is not a port number")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> InstanceMetadata {
        InstanceMetadata {
            container: ContainerSection {
                id: "abc123".into(),
                name: "pd-test".into(),
                image: "pocketdock/minimal-python".into(),
                project: "proj".into(),
                created_at: "2026-02-10T14:30:00+00:00".into(),
                persist: true,
                profile: Some("minimal-python".into()),
                network: Some(false),
            },
            resources: Resources {
                mem_limit: Some("256m".into()),
                cpu_percent: Some(50),
            },
            ports: [(8080, 80), (3000, 3000)].into_iter().collect(),
            volumes: [("/host/dir".to_string(), "/mnt/shared".to_string())]
                .into_iter()
                .collect(),
            provenance: Provenance {
                created_by: "pocketdock create --persist".into(),
                pid: 12345,
            },
        }
    }

    #[test]
    fn layout_matches_the_reference() {
        let text = full().to_toml().unwrap_or_default();
        assert_eq!(
            text,
            "# Maintained by pocketdock. Do not edit.\n\n\
             [container]\nid = \"abc123\"\nname = \"pd-test\"\nimage = \"pocketdock/minimal-python\"\n\
             project = \"proj\"\ncreated_at = \"2026-02-10T14:30:00+00:00\"\npersist = true\n\
             profile = \"minimal-python\"\nnetwork = false\n\n\
             [resources]\nmem_limit = \"256m\"\ncpu_percent = 50\n\n\
             [ports]\n3000 = 3000\n8080 = 80\n\n\
             [volumes]\n\"/host/dir\" = \"/mnt/shared\"\n\n\
             [provenance]\ncreated_by = \"pocketdock create --persist\"\npid = 12345\n"
        );
        assert_eq!(InstanceMetadata::parse(&text, "t").ok(), Some(full()));
    }

    #[test]
    fn minimal_has_no_optional_sections() {
        let m = InstanceMetadata {
            container: ContainerSection {
                id: PENDING_ID.into(),
                name: "pd-x".into(),
                ..ContainerSection::default()
            },
            ..InstanceMetadata::default()
        };
        let text = m.to_toml().unwrap_or_default();
        assert!(!text.contains("[resources]"));
        assert!(!text.contains("[ports]"));
        assert!(!text.contains("[volumes]"));
        assert!(text.contains("[provenance]"));
        assert!(text.contains("persist = false"));
        assert!(!text.contains("image"));
        assert_eq!(InstanceMetadata::parse(&text, "t").ok(), Some(m));
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let mut m = full();
        m.provenance.created_by =
            "pocketdock run \"quoted\" back\\slash\nnewline 'single' ]]".into();
        m.container.image = "img\"\\".into();
        m.volumes.insert("/a \"b\"\\c = d".into(), "/x".into());
        let text = m.to_toml().unwrap_or_default();
        assert_eq!(InstanceMetadata::parse(&text, "t").ok(), Some(m));
    }

    #[test]
    fn reads_files_written_by_the_reference() {
        let text = "# Maintained by pocketdock. Do not edit.\n\n[container]\nid = \"abc\"\n\
                    name = \"pd-a\"\npersist = true\nfuture_key = 1\n\n[ports]\n8080 = 80\n\n\
                    [provenance]\ncreated_by = \"python -m pocketdock\"\npid = 7\n\n[future]\nx = 1\n";
        let m = InstanceMetadata::parse(text, "t").unwrap_or_default();
        assert_eq!(m.container.id, "abc");
        assert!(m.container.persist);
        assert_eq!(m.ports.get(&8080), Some(&80));
        assert_eq!(m.provenance.pid, 7);
        assert!(m.resources.is_empty());
    }

    #[test]
    fn invalid_files_are_config_errors() {
        for text in [
            "[container\n",
            "[ports]\nhttp = 80\n",
            "[ports]\n70000 = 1\n",
            "[container]\npersist = \"yes\"\n",
        ] {
            match InstanceMetadata::parse(text, "/p/instance.toml") {
                Err(Error::Config { path, .. }) => assert_eq!(path, "/p/instance.toml"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
