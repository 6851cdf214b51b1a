//! A [`SpawnRequest`] as a [`Command`] ready to start: argv, extra environment, working
//! directory, user, pipes, and a session and process group of its own.
//!
//! Users are numeric only: the agent is linked statically and never asks NSS for a name, so it
//! runs the same in an image without a C library.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use pocketdock_proto::agent::SpawnRequest;

/// The sandbox's user database, read as a plain file for a uid's primary group.
const PASSWD: &str = "/etc/passwd";

/// The command a request describes, or why it cannot be built (sent back as the
/// `SpawnFailed` reason).
pub fn command(req: &SpawnRequest) -> Result<Command, String> {
    let (program, args) = req
        .argv
        .split_first()
        .ok_or_else(|| "empty argv".to_owned())?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    for entry in &req.env {
        let (key, value) = entry
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("environment entry {entry:?} is not KEY=VALUE"))?;
        cmd.env(key, value);
    }
    if let Some(cwd) = &req.cwd {
        cmd.current_dir(cwd);
    }
    if let Some(user) = &req.user {
        let (uid, gid) = parse_user(user)?;
        cmd.uid(uid);
        if let Some(gid) = gid.or_else(|| primary_group(uid)) {
            cmd.gid(gid);
        }
    }
    cmd.stdin(if req.stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // Its own session and group, led by it: a signal or the final kill reaches the whole tree
    // it starts, and a session's interrupt finds a shell's processes by their session id as on
    // the engine path, where each exec leads its own session.
    crate::sys::lead_own_session(&mut cmd);
    crate::sys::prefer_as_oom_victim(&mut cmd);
    Ok(cmd)
}

/// `uid` or `uid:gid`, both numeric.
fn parse_user(user: &str) -> Result<(u32, Option<u32>), String> {
    let bad = || format!("user {user:?} is not a numeric uid or uid:gid");
    let (uid, gid) = match user.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (user, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(str::parse).transpose().map_err(|_| bad())?;
    Ok((uid, gid))
}

/// The primary group of `uid` in the sandbox's `/etc/passwd`, as the engines choose it for a
/// `--user` without a group.
fn primary_group(uid: u32) -> Option<u32> {
    let passwd = std::fs::read_to_string(PASSWD).ok()?;
    primary_group_in(&passwd, uid)
}

fn primary_group_in(passwd: &str, uid: u32) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':').skip(2);
        let line_uid: u32 = fields.next()?.parse().ok()?;
        (line_uid == uid).then(|| fields.next()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_numeric_uid_with_an_optional_gid() {
        assert_eq!(parse_user("1000"), Ok((1000, None)));
        assert_eq!(parse_user("1000:100"), Ok((1000, Some(100))));
        assert!(parse_user("nobody").is_err());
        assert!(parse_user("1000:users").is_err());
        assert!(parse_user("").is_err());
        assert!(parse_user("1000:").is_err());
    }

    #[test]
    fn a_uid_without_a_group_takes_its_primary_group_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbroken\nsandbox:x:1000:1001::/home:/bin/sh\n";
        assert_eq!(primary_group_in(passwd, 1000), Some(1001));
        assert_eq!(primary_group_in(passwd, 0), Some(0));
        assert_eq!(primary_group_in(passwd, 7), None);
    }

    #[test]
    fn requests_that_cannot_start_say_why() {
        let err = |req: SpawnRequest| command(&req).err().unwrap_or_default();
        assert_eq!(err(SpawnRequest::default()), "empty argv");
        let req = SpawnRequest {
            argv: vec!["true".into()],
            env: vec!["=x".into()],
            ..SpawnRequest::default()
        };
        assert!(err(req).contains("KEY=VALUE"));
        let req = SpawnRequest {
            argv: vec!["true".into()],
            user: Some("root".into()),
            ..SpawnRequest::default()
        };
        assert!(err(req).contains("numeric"));
    }
}
