//! The `pocketdock.*` labels that mark and describe a managed container.

use std::collections::BTreeMap;

use crate::reap::{Owner, LABEL_TTL};

/// Label marking a container as created by pocketdock (`"true"`).
pub const LABEL_MANAGED: &str = "pocketdock.managed";
/// Label holding the pocketdock name of a container.
pub const LABEL_INSTANCE: &str = "pocketdock.instance";
/// Label saying whether a container survives shutdown (`"true"`/`"false"`).
pub const LABEL_PERSIST: &str = "pocketdock.persist";
/// Label holding the creation time (ISO 8601, e.g. `2026-02-10T14:30:00.123456+00:00`).
pub const LABEL_CREATED_AT: &str = "pocketdock.created-at";
/// Label holding the project name.
pub const LABEL_PROJECT: &str = "pocketdock.project";
/// Label holding the absolute host path of the instance directory.
pub const LABEL_DATA_PATH: &str = "pocketdock.data-path";
/// Label holding the profile name.
pub const LABEL_PROFILE: &str = "pocketdock.profile";
/// Label naming the warm pool a container belongs to (see [`crate::pool`]).
pub const LABEL_POOL: &str = "pocketdock.pool";

/// The pocketdock labels of a container, compatible with the Python pocketdock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// `pocketdock.instance`: the pocketdock name.
    pub instance: String,
    /// `pocketdock.persist`.
    pub persist: bool,
    /// `pocketdock.created-at`, passed in by the caller (see [`crate::info::format_timestamp`]).
    pub created_at: String,
    /// `pocketdock.project`, omitted when `None` or empty.
    pub project: Option<String>,
    /// `pocketdock.data-path`, omitted when `None` or empty.
    pub data_path: Option<String>,
    /// `pocketdock.profile`, omitted when `None` or empty.
    pub profile: Option<String>,
    /// `pocketdock.pool`: the warm pool the container belongs to, omitted when `None` or empty.
    pub pool: Option<String>,
    /// The process whose end ends the container (`pocketdock.owner-*`, see [`crate::reap`]);
    /// only ephemeral containers carry one.
    pub owner: Option<Owner>,
    /// `pocketdock.ttl`: seconds after its creation when the container is removed.
    pub ttl: Option<u64>,
}

impl Labels {
    /// Labels for `instance` created at `created_at`, not persistent, no project.
    pub fn new(instance: impl Into<String>, created_at: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            created_at: created_at.into(),
            ..Self::default()
        }
    }

    /// The label map, `pocketdock.managed=true` included.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(LABEL_MANAGED.to_string(), "true".to_string());
        m.insert(LABEL_INSTANCE.to_string(), self.instance.clone());
        m.insert(LABEL_PERSIST.to_string(), self.persist.to_string());
        m.insert(LABEL_CREATED_AT.to_string(), self.created_at.clone());
        for (key, value) in [
            (LABEL_PROJECT, &self.project),
            (LABEL_DATA_PATH, &self.data_path),
            (LABEL_PROFILE, &self.profile),
            (LABEL_POOL, &self.pool),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                m.insert(key.to_string(), v.to_string());
            }
        }
        if let Some(owner) = &self.owner {
            for (k, v) in owner.labels() {
                m.insert(k.to_string(), v);
            }
        }
        if let Some(ttl) = self.ttl {
            m.insert(LABEL_TTL.to_string(), ttl.to_string());
        }
        m
    }

    /// Read the labels of an engine container; `None` unless `pocketdock.managed` is `true`
    /// (any case). Works for containers created by the Python pocketdock.
    pub fn from_map(map: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| map.get(k).map(String::as_str);
        if !get(LABEL_MANAGED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let opt = |k: &str| get(k).filter(|v| !v.is_empty()).map(ToString::to_string);
        Some(Self {
            instance: get(LABEL_INSTANCE).unwrap_or_default().to_string(),
            persist: get(LABEL_PERSIST).is_some_and(|v| v.eq_ignore_ascii_case("true")),
            created_at: get(LABEL_CREATED_AT).unwrap_or_default().to_string(),
            project: opt(LABEL_PROJECT),
            data_path: opt(LABEL_DATA_PATH),
            profile: opt(LABEL_PROFILE),
            pool: opt(LABEL_POOL),
            owner: Owner::from_labels(map),
            ttl: get(LABEL_TTL).and_then(|v| v.parse().ok()),
        })
    }
}
