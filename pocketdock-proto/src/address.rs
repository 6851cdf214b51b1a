//! Engine addresses: where an engine listens, and the route a connection takes to it.
//!
//! The forms are the ones Docker and Podman users already write: a path or `unix://PATH` (a
//! local socket), `tcp://HOST:PORT` (plain only to loopback, TLS anywhere else) and
//! `ssh://[user@]host[:port][/path/to/socket]`. Parsing and the rules that refuse an unsafe
//! route are pure; the adapters' connection step follows the [`Route`].

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::error::{Error, RemoteCause};

/// Docker's port for tcp with TLS, used when a `tcp://` address names none and TLS is on.
pub const DOCKER_TLS_PORT: u16 = 2376;
/// Docker's port for plain tcp, used when a `tcp://` address names none and TLS is off.
pub const DOCKER_PLAIN_PORT: u16 = 2375;
/// The engine socket an `ssh://` address reaches when it names none: Docker's default. Podman
/// connections always carry their socket's path.
pub const DEFAULT_REMOTE_SOCKET: &str = "/var/run/docker.sock";

/// Where an engine listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EngineAddress {
    /// A Unix socket on this machine.
    Unix(PathBuf),
    /// A tcp listener (plain or TLS: see [`route`]).
    Tcp {
        /// A host name or an IP address (without brackets).
        host: String,
        /// The port, when the address names one.
        port: Option<u16>,
    },
    /// An engine socket on a machine reached with the system `ssh` client.
    Ssh(SshAddress),
}

/// The parts of an `ssh://[user@]host[:port][/path]` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshAddress {
    /// The login, when given (otherwise ssh's config or the local user decides).
    pub user: Option<String>,
    /// The host (or an alias of the user's ssh config).
    pub host: String,
    /// The port, when given (otherwise ssh's config or 22).
    pub port: Option<u16>,
    /// The engine's socket on that machine, when given.
    pub socket: Option<String>,
}

impl SshAddress {
    /// `user@host`, or `host`: the destination argument of `ssh`.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// The engine socket on the remote machine ([`DEFAULT_REMOTE_SOCKET`] when none is named).
    pub fn remote_socket(&self) -> &str {
        self.socket.as_deref().unwrap_or(DEFAULT_REMOTE_SOCKET)
    }
}

impl EngineAddress {
    /// Parse an address: `unix://PATH`, `tcp://HOST[:PORT]`, `ssh://[user@]host[:port][/path]`,
    /// or a bare path (a Unix socket, as before schemes existed).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::EngineAddress {
            address: text.to_string(),
            reason: reason.to_string(),
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            if text.is_empty() {
                return Err(bad("empty"));
            }
            return Ok(Self::Unix(PathBuf::from(text)));
        };
        match scheme {
            "unix" if rest.is_empty() => Err(bad("unix:// needs a socket path")),
            "unix" => Ok(Self::Unix(PathBuf::from(rest))),
            "tcp" => {
                let authority = rest.trim_end_matches('/');
                if authority.contains('/') || authority.contains('@') {
                    return Err(bad("tcp:// takes only HOST:PORT"));
                }
                let (host, port) = split_host_port(authority).map_err(|r| bad(&r))?;
                Ok(Self::Tcp { host, port })
            }
            "ssh" => {
                let (authority, socket) = match rest.find('/') {
                    Some(i) => (&rest[..i], Some(&rest[i..])),
                    None => (rest, None),
                };
                let (user, hostport) = match authority.rsplit_once('@') {
                    Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
                    Some(_) => return Err(bad("empty user before @")),
                    None => (None, authority),
                };
                let (host, port) = split_host_port(hostport).map_err(|r| bad(&r))?;
                let socket = socket.filter(|s| *s != "/").map(str::to_string);
                Ok(Self::Ssh(SshAddress {
                    user,
                    host,
                    port,
                    socket,
                }))
            }
            other => Err(bad(&format!(
                "unsupported scheme {other}:// (unix://, tcp:// or ssh://)"
            ))),
        }
    }

    /// The address of a Unix socket at `path`.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self::Unix(path.into())
    }

    /// The socket path of a Unix address.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Self::Unix(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the engine is on another machine (tcp to a non-loopback host, or ssh): the
    /// host-side features that assume one machine say so then.
    pub fn is_remote(&self) -> bool {
        match self {
            Self::Unix(_) => false,
            Self::Tcp { host, .. } => !is_loopback(host),
            Self::Ssh(_) => true,
        }
    }
}

impl fmt::Display for EngineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
            Self::Tcp { host, port } => {
                write!(f, "tcp://{}", bracketed(host))?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            Self::Ssh(s) => {
                f.write_str("ssh://")?;
                if let Some(u) = &s.user {
                    write!(f, "{u}@")?;
                }
                f.write_str(&bracketed(&s.host))?;
                if let Some(p) = s.port {
                    write!(f, ":{p}")?;
                }
                if let Some(sock) = &s.socket {
                    f.write_str(sock)?;
                }
                Ok(())
            }
        }
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed [ in host".to_string())?;
        match after {
            "" => (h, None),
            _ => (
                h,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| format!("unexpected {after:?} after ]"))?,
                ),
            ),
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err("an IPv6 host goes in brackets".into()),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("bad port {p:?}"))?,
        ),
    };
    Ok((host.to_string(), port))
}

/// Whether `host` is this machine's loopback: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The files of mutual TLS, as the docker CLI names them in `DOCKER_CERT_PATH`: the CA that
/// signs the engine's certificate, and this client's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsFiles {
    /// The CA certificate(s) the engine's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// The client certificate (PEM), when the engine asks for one.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, the layout of `DOCKER_CERT_PATH` and of a
    /// docker context's TLS directory.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: Some(dir.join("cert.pem")),
            key: Some(dir.join("key.pem")),
        }
    }
}

/// TLS as the docker CLI turns it on from the environment: `DOCKER_TLS_VERIFY` (any non-empty
/// value) or `DOCKER_TLS`, with the files in `DOCKER_CERT_PATH` (default `~/.docker`). The
/// engine's certificate is always verified: `DOCKER_TLS` without verification is read as TLS
/// with verification, never as trust in any certificate.
pub fn tls_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<TlsFiles> {
    let on = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if !on("DOCKER_TLS_VERIFY") && !on("DOCKER_TLS") {
        return None;
    }
    let dir = env("DOCKER_CERT_PATH")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|s| !s.is_empty())
                .map(|h| Path::new(&h).join(".docker"))
        })?;
    Some(TlsFiles::in_dir(&dir))
}

/// How a connection reaches the engine: what the adapters' connection step does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// Connect to a local Unix socket.
    Unix(PathBuf),
    /// Plain tcp (loopback only).
    Tcp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// Tcp with mutual TLS.
    Tls {
        /// Host (also the name the engine's certificate must carry).
        host: String,
        /// Port.
        port: u16,
        /// The CA, client certificate and key.
        files: TlsFiles,
    },
    /// The system `ssh` client forwarding a local socket to the engine's socket.
    Ssh {
        /// The remote machine and socket.
        address: SshAddress,
        /// A private key to log in with (`ssh -i`), when the connection's settings name one.
        identity: Option<PathBuf>,
    },
}

impl Route {
    /// The transport's name, for diagnostics: `unix`, `tcp`, `tls` or `ssh`.
    pub fn transport(&self) -> &'static str {
        match self {
            Self::Unix(_) => "unix",
            Self::Tcp { .. } => "tcp",
            Self::Tls { .. } => "tls",
            Self::Ssh { .. } => "ssh",
        }
    }
}

/// The route to `address`, given TLS files (explicit, or from [`tls_from_env`]) and an ssh
/// identity. Plain tcp to anything but loopback is refused
/// ([`RemoteCause::PlainTcpNotLoopback`]): the engine's API is root on its machine.
pub fn route(
    address: &EngineAddress,
    tls: Option<TlsFiles>,
    identity: Option<PathBuf>,
) -> Result<Route, Error> {
    Ok(match address {
        EngineAddress::Unix(p) => Route::Unix(p.clone()),
        EngineAddress::Tcp { host, port } => match tls {
            Some(files) => Route::Tls {
                host: host.clone(),
                port: port.unwrap_or(DOCKER_TLS_PORT),
                files,
            },
            None if is_loopback(host) => Route::Tcp {
                host: host.clone(),
                port: port.unwrap_or(DOCKER_PLAIN_PORT),
            },
            None => {
                return Err(Error::RemoteEngine {
                    address: address.to_string(),
                    cause: RemoteCause::PlainTcpNotLoopback,
                })
            }
        },
        EngineAddress::Ssh(s) => Route::Ssh {
            address: s.clone(),
            identity,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> EngineAddress {
        EngineAddress::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn unix_addresses_and_bare_paths() {
        assert_eq!(
            parse("unix:///run/x.sock"),
            EngineAddress::unix("/run/x.sock")
        );
        assert_eq!(parse("/run/x.sock"), EngineAddress::unix("/run/x.sock"));
        assert_eq!(parse("rel.sock"), EngineAddress::unix("rel.sock"));
        assert!(EngineAddress::parse("unix://").is_err());
        assert!(EngineAddress::parse("").is_err());
        assert_eq!(parse("unix:///a b.sock").to_string(), "unix:///a b.sock");
    }

    #[test]
    fn tcp_addresses() {
        assert_eq!(
            parse("tcp://10.231.0.2:2376"),
            EngineAddress::Tcp {
                host: "10.231.0.2".into(),
                port: Some(2376)
            }
        );
        assert_eq!(
            parse("tcp://example.org"),
            EngineAddress::Tcp {
                host: "example.org".into(),
                port: None
            }
        );
        assert_eq!(
            parse("tcp://[::1]:2375"),
            EngineAddress::Tcp {
                host: "::1".into(),
                port: Some(2375)
            }
        );
        assert_eq!(parse("tcp://[::1]:2375").to_string(), "tcp://[::1]:2375");
        assert_eq!(parse("tcp://h:1/").to_string(), "tcp://h:1");
        for bad in [
            "tcp://",
            "tcp://:2375",
            "tcp://h:x",
            "tcp://h:0",
            "tcp://h:70000",
            "tcp://::1:2375",
            "tcp://h:1/path",
            "tcp://u@h:1",
            "tcp://[::1",
            "http://h:1",
            "npipe:////./pipe/docker_engine",
        ] {
            match EngineAddress::parse(bad) {
                Err(Error::EngineAddress { address, .. }) => assert_eq!(address, bad),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn ssh_addresses() {
        assert_eq!(
            parse("ssh://root@10.231.0.2:22/run/podman/podman.sock"),
            EngineAddress::Ssh(SshAddress {
                user: Some("root".into()),
                host: "10.231.0.2".into(),
                port: Some(22),
                socket: Some("/run/podman/podman.sock".into()),
            })
        );
        let EngineAddress::Ssh(s) = parse("ssh://build-box") else {
            panic!("not ssh")
        };
        assert_eq!(s.destination(), "build-box");
        assert_eq!(s.remote_socket(), DEFAULT_REMOTE_SOCKET);
        assert_eq!((s.user, s.port, s.socket), (None, None, None));
        let EngineAddress::Ssh(s) = parse("ssh://me@[fe80::1]:2222/") else {
            panic!("not ssh")
        };
        assert_eq!(s.destination(), "me@fe80::1");
        assert_eq!((s.port, s.socket), (Some(2222), None));
        assert_eq!(
            parse("ssh://root@h:22/run/podman/podman.sock").to_string(),
            "ssh://root@h:22/run/podman/podman.sock"
        );
        assert!(EngineAddress::parse("ssh://@h").is_err());
        assert!(EngineAddress::parse("ssh://").is_err());
    }

    #[test]
    fn loopback_and_remote() {
        for h in ["localhost", "127.0.0.1", "127.9.9.9", "::1", "LOCALHOST"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.231.0.2", "example.org", "::2", "0.0.0.0"] {
            assert!(!is_loopback(h), "{h}");
        }
        assert!(!parse("/x.sock").is_remote());
        assert!(!parse("tcp://127.0.0.1:2375").is_remote());
        assert!(parse("tcp://10.0.0.1:2376").is_remote());
        assert!(parse("ssh://localhost").is_remote());
    }

    #[test]
    fn plain_tcp_goes_only_to_loopback() {
        assert_eq!(
            route(&parse("tcp://127.0.0.1"), None, None).ok(),
            Some(Route::Tcp {
                host: "127.0.0.1".into(),
                port: DOCKER_PLAIN_PORT
            })
        );
        match route(&parse("tcp://10.231.0.2:2375"), None, None) {
            Err(Error::RemoteEngine { address, cause }) => {
                assert_eq!(address, "tcp://10.231.0.2:2375");
                assert_eq!(cause, RemoteCause::PlainTcpNotLoopback);
                assert!(cause.to_string().contains("loopback"));
            }
            other => panic!("{other:?}"),
        }
        let files = TlsFiles::in_dir(Path::new("/certs"));
        let r = route(&parse("tcp://10.231.0.2"), Some(files.clone()), None);
        assert_eq!(
            r.ok(),
            Some(Route::Tls {
                host: "10.231.0.2".into(),
                port: DOCKER_TLS_PORT,
                files
            })
        );
        let r = route(&parse("ssh://h/s.sock"), None, Some("/k".into()));
        assert_eq!(r.map(|r| r.transport()).ok(), Some("ssh"));
    }

    #[test]
    fn tls_from_the_docker_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(tls_from_env(&env(&[("DOCKER_CERT_PATH", "/c")])), None);
        assert_eq!(
            tls_from_env(&env(&[("DOCKER_TLS_VERIFY", ""), ("HOME", "/h")])),
            None
        );
        assert_eq!(
            tls_from_env(&env(&[
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/c")
            ])),
            Some(TlsFiles::in_dir(Path::new("/c")))
        );
        assert_eq!(
            tls_from_env(&env(&[("DOCKER_TLS", "1"), ("HOME", "/h")])),
            Some(TlsFiles::in_dir(Path::new("/h/.docker")))
        );
    }
}
