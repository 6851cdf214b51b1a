//! Byte sizes: memory limits as the user writes them (`"256m"`) and sizes as people read them.

use crate::error::{Error, Result};

/// Smallest memory limit accepted (Docker refuses less than 6 MiB).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// Parse a memory size: digits, optional spaces, an optional unit `b`, `k`, `m`, `g` or `t`
/// (case-insensitive, powers of 1024), surrounding spaces ignored.
///
/// As a convenience `kb`, `mb`, `gb` and `tb` are accepted as the same units (still powers of
/// 1024: `"256mb"` is 256 MiB). Refused: an empty string, zero, decimals, signs, any other unit,
/// and values that overflow `u64`.
pub fn parse_mem_limit(s: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid("mem_limit", format!("invalid memory limit {s:?}: {why}"));
    let t = s.trim();
    let digits_end = t
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(t.len());
    let (digits, rest) = t.split_at(digits_end);
    if digits.is_empty() {
        return Err(bad("expected a number such as 256m or 1g"));
    }
    let unit = rest.trim_start().to_ascii_lowercase();
    let shift: u32 = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        _ => return Err(bad("unit must be one of b, k, m, g, t")),
    };
    let n: u64 = digits.parse().map_err(|_| bad("number too large"))?;
    if n == 0 {
        return Err(bad("must be greater than zero"));
    }
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| bad("number too large"))
}

/// Human size with 1024 steps: `"512 B"`, `"1.0 KB"`, `"42.0 MB"`, `"2.0 GB"`, `"3.0 TB"` (TB is
/// the largest unit).
#[expect(clippy::cast_precision_loss, reason = "a human size shows one decimal")]
pub fn format_bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = "KB";
    for next in ["MB", "GB", "TB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_limits() {
        let table: &[(&str, u64)] = &[
            ("1024", 1024),
            ("512b", 512),
            ("512B", 512),
            ("4k", 4096),
            ("4kb", 4096),
            ("256m", 268_435_456),
            ("256mb", 268_435_456),
            ("256MB", 268_435_456),
            ("1G", 1_073_741_824),
            ("2G", 2_147_483_648),
            ("1gb", 1_073_741_824),
            ("1t", 1_099_511_627_776),
            ("1TB", 1_099_511_627_776),
            ("  128 m  ", 134_217_728),
            ("16777215t", 16_777_215 << 40),
        ];
        for (s, n) in table {
            assert_eq!(parse_mem_limit(s).ok(), Some(*n), "{s}");
        }
        for bad in [
            "",
            " ",
            "abc",
            "12x",
            "0",
            "0m",
            "-1",
            "+1",
            "1.5g",
            "m",
            "256mib",
            "256bb",
            "1 g b",
            "16777216t",
            "99999999999999999999",
            "1e6",
        ] {
            match parse_mem_limit(bad) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!(field, "mem_limit");
                    assert!(reason.contains("invalid memory limit"), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn bytes_formatting() {
        let table: &[(u64, &str)] = &[
            (0, "0 B"),
            (512, "512 B"),
            (1023, "1023 B"),
            (1024, "1.0 KB"),
            (1536, "1.5 KB"),
            (42 * 1024 * 1024, "42.0 MB"),
            (256 * 1024 * 1024, "256.0 MB"),
            (2 << 30, "2.0 GB"),
            (3 << 40, "3.0 TB"),
            (100 << 40, "100.0 TB"),
            (5 << 50, "5120.0 TB"),
        ];
        for (n, s) in table {
            assert_eq!(format_bytes(*n), *s, "{n}");
        }
        assert!(format_bytes(u64::MAX).ends_with(" TB"));
    }
}
