//! The container's first process: a shell that exits at once on `SIGTERM`.

/// The script of the default PID 1: sleeps forever, exits 0 at once on `SIGTERM` or `SIGINT`.
pub const PID1_SCRIPT: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// The default PID 1 command: `["sh", "-c", PID1_SCRIPT]`.
pub fn default_cmd() -> Vec<String> {
    vec!["sh".into(), "-c".into(), PID1_SCRIPT.into()]
}
