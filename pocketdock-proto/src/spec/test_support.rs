//! Helpers shared by the spec tests.

use std::fmt;

use crate::error::{Error, Result};

/// The field an `InvalidInput` error names; panics on anything else.
pub(super) fn field_of(r: Result<impl fmt::Debug>) -> &'static str {
    match r {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
