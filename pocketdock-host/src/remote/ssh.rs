//! An engine socket on another machine, through the system `ssh` client.
//!
//! One ssh master connection per destination and socket logs in once, in batch mode, with
//! the user's ssh config, agent and known hosts, and forwards a local socket (in a directory
//! of this user's) to the engine's socket: `ssh -M -N -f -L local:remote`. Each engine
//! connection is then a plain connect to that local socket, which ssh carries as a channel of
//! the one login. The master is ssh's own (`ControlPersist`): it ends [`PERSIST`] after its
//! last use, so nothing outlives us for long even when our process is killed, and it is
//! started again when its socket has gone. Login failures (a changed host key among them)
//! surface when the master starts, with ssh's own message.

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pocketdock_proto::address::SshAddress;
use pocketdock_proto::RemoteCause;

/// How long ssh keeps an idle master connection (and its forwarded socket).
pub(crate) const PERSIST: Duration = Duration::from_secs(120);

/// The ssh settings of one engine.
#[derive(Debug)]
pub(crate) struct SshSetup {
    address: SshAddress,
    identity: Option<PathBuf>,
    config: Option<PathBuf>,
    /// The master's control socket.
    control: PathBuf,
    /// The local end of the forward to the engine's socket.
    forward: PathBuf,
    /// Held while a master is being started, so one handle starts one.
    starting: Mutex<()>,
}

impl SshSetup {
    /// Settings for `address`: an identity file, and an ssh config file
    /// (`POCKETDOCK_SSH_CONFIG`, else ssh's own default).
    pub(crate) fn new(
        address: &SshAddress,
        identity: Option<PathBuf>,
        config: Option<PathBuf>,
    ) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (address, &identity, &config).hash(&mut h);
        let base = control_dir().join(format!("{:016x}", h.finish()));
        Self {
            address: address.clone(),
            identity,
            config,
            control: base.with_extension("ctl"),
            forward: base.with_extension("sock"),
            starting: Mutex::new(()),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        let mut args: Vec<OsString> = Vec::new();
        if let Some(c) = &self.config {
            args.extend(["-F".into(), c.into()]);
        }
        for opt in [
            "BatchMode=yes".to_string(),
            format!("ControlPath={}", self.control.display()),
            "ConnectTimeout=10".to_string(),
        ] {
            args.extend(["-o".into(), opt.into()]);
        }
        if let Some(p) = self.address.port {
            args.extend(["-p".into(), p.to_string().into()]);
        }
        if let Some(i) = &self.identity {
            args.extend(["-i".into(), i.into()]);
        }
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    /// Start the master with its forward (after removing what a dead one left behind).
    fn start_master(&self) -> Result<(), RemoteCause> {
        let _ = std::fs::remove_file(&self.control);
        let _ = std::fs::remove_file(&self.forward);
        // The master goes to the background once logged in and keeps its stderr: a file, so
        // that reading ssh's message never waits for the master's end.
        let log = self.control.with_extension("log");
        let stderr = std::fs::File::create(&log).map_err(|e| RemoteCause::Ssh(e.to_string()))?;
        let forward = format!(
            "{}:{}",
            self.forward.display(),
            self.address.remote_socket()
        );
        let status = self
            .command()
            .args([
                "-o",
                "ControlMaster=yes",
                "-o",
                &format!("ControlPersist={}", PERSIST.as_secs()),
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
                "-o",
                "StreamLocalBindMask=0177",
                "-N",
                "-f",
                "-L",
                &forward,
            ])
            .arg(self.address.destination())
            .stderr(stderr)
            .status()
            .map_err(|e| RemoteCause::Ssh(format!("cannot run ssh: {e}")))?;
        let message = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if status.success() {
            return Ok(());
        }
        Err(classify(&message, status.code()))
    }

    /// A connection to the engine's socket through the master's forward, starting the master
    /// when there is none (or only a dead one's socket).
    pub(crate) fn dial(&self) -> Result<UnixStream, RemoteCause> {
        if let Ok(s) = UnixStream::connect(&self.forward) {
            return Ok(s);
        }
        let _guard = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Ok(s) = UnixStream::connect(&self.forward) {
            return Ok(s);
        }
        self.start_master()?;
        UnixStream::connect(&self.forward).map_err(|e| {
            RemoteCause::Ssh(format!(
                "ssh forwards {} but it does not accept connections: {e}",
                self.forward.display()
            ))
        })
    }
}

/// ssh's message as a cause: a host key problem, or anything else ssh said.
fn classify(stderr: &str, code: Option<i32>) -> RemoteCause {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '@'))
        .collect();
    let message = if lines.is_empty() {
        format!("ssh exited with {code:?} and said nothing")
    } else {
        lines.join(" ")
    };
    let key = stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || stderr.contains("No ED25519 host key is known")
        || stderr.contains("host key is known");
    if key {
        RemoteCause::SshHostKey(message)
    } else {
        RemoteCause::Ssh(message)
    }
}

/// Where the master connections' control sockets live: a directory of this user's, under
/// `XDG_RUNTIME_DIR` when set, else the temporary directory (short paths: a socket path is
/// limited to about a hundred bytes).
fn control_dir() -> PathBuf {
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|s| !s.is_empty() && Path::new(s).is_dir())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let dir = base.join(format!("pocketdock-ssh-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_host_key_is_named_with_sshs_message() {
        let stderr = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
            Host key verification failed.\n";
        match classify(stderr, Some(255)) {
            RemoteCause::SshHostKey(m) => {
                assert!(m.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{m}");
                assert!(m.contains("Host key verification failed."), "{m}");
                assert!(!m.contains("@@@@"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify("root@h: Permission denied (publickey).\n", Some(255)),
            RemoteCause::Ssh("root@h: Permission denied (publickey).".into())
        );
        assert!(matches!(classify("", Some(255)), RemoteCause::Ssh(m) if m.contains("255")));
    }

    #[test]
    fn control_paths_are_short_and_differ_per_destination() {
        let a = SshAddress {
            user: Some("root".into()),
            host: "10.231.0.2".into(),
            port: Some(22),
            socket: Some("/run/podman/podman.sock".into()),
        };
        let mut b = a.clone();
        b.host = "10.231.0.3".into();
        let sa = SshSetup::new(&a, None, None);
        let sb = SshSetup::new(&b, None, None);
        assert_ne!(sa.control, sb.control);
        assert_ne!(sa.forward, sb.forward);
        assert_eq!(sa.control, SshSetup::new(&a, None, None).control);
        assert!(sa.forward.as_os_str().len() < 100);
    }
}
