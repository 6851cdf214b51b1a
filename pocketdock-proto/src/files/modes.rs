//! Permission bits across the boundary: what the host keeps of a pulled entry's mode and what a
//! container gets of an uploaded one.

/// Permission bits kept on the host: setuid, setgid and sticky are dropped.
pub fn host_mode(mode: u32) -> u32 {
    mode & 0o777
}

/// Permission bits sent to the container: setuid and setgid are dropped (the files belong to
/// the default user), the sticky bit is kept.
pub fn container_mode(mode: u32) -> u32 {
    mode & 0o1777
}
