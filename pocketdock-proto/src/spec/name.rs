//! Engine container names: generated ones and the check every name passes.

use crate::error::{Error, Result};

/// Longest engine container name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// A fresh pocketdock name from a random number: `pd-` and 8 lowercase hex digits (the low 32
/// bits of `random`). The caller supplies the randomness; proto has no random source.
pub fn generate_name(random: u64) -> String {
    format!("pd-{:08x}", random & 0xffff_ffff)
}

/// Check an engine container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
pub fn validate_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return Err(Error::invalid("name", "must not be empty"));
    };
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            "name",
            format!("{name:?} is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(Error::invalid(
            "name",
            format!("{name:?} must start with a letter or digit"),
        ));
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(Error::invalid(
            "name",
            format!("{name:?} may only contain letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::test_support::field_of;
    use std::collections::BTreeSet;

    #[test]
    fn generated_names() {
        assert_eq!(generate_name(0), "pd-00000000");
        assert_eq!(generate_name(0xdead_beef), "pd-deadbeef");
        assert_eq!(generate_name(u64::MAX), "pd-ffffffff");
        let names: BTreeSet<String> = (0..50u64).map(|i| generate_name(i * 0x9e37_79b9)).collect();
        assert_eq!(names.len(), 50);
        for n in &names {
            assert_eq!(n.len(), 11);
            assert!(validate_name(n).is_ok());
        }
    }

    #[test]
    fn names() {
        let long_ok = "a".repeat(128);
        for ok in ["a", "pd-lab", "A1_b.c-d", "0abc", long_ok.as_str()] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long_bad = "a".repeat(129);
        for bad in [
            "",
            "-a",
            "_a",
            ".a",
            "a b",
            "a/b",
            "a:b",
            "é",
            "a\n",
            long_bad.as_str(),
        ] {
            assert_eq!(field_of(validate_name(bad)), "name", "{bad:?}");
        }
    }
}
