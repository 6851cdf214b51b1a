//! The names of a multi-image export, checked and de-duplicated, and its one request.

use crate::error::{Error, Result};
use crate::http::Request;

/// A validated multi-image export: the de-duplicated names, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPlan {
    names: Vec<String>,
}

impl ExportPlan {
    /// Check the names (at least one; no empty names, whitespace or control characters) and
    /// drop repeats.
    pub fn new<S: AsRef<str>>(images: &[S]) -> Result<Self> {
        if images.is_empty() {
            return Err(Error::invalid(
                "images",
                "name at least one image to export",
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for image in images {
            let image = image.as_ref();
            if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid(
                    "images",
                    format!("{image:?} is not an image reference"),
                ));
            }
            if !names.iter().any(|n| n == image) {
                names.push(image.to_string());
            }
        }
        Ok(Self { names })
    }

    /// The names to save.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `GET /images/get?names=..` for every name: one archive holding them all.
    pub fn request(&self) -> Request {
        crate::api::images::save(&self.names)
    }
}
