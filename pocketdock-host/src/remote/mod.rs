//! Reaching an engine at its address: a local Unix socket, or tcp, TLS or ssh to another
//! machine. Every remote connection is handed to the adapters as one end of a local socket
//! pair ([`EngineEndpoint::dial`]), so the adapters' connection step is the only thing that
//! differs by transport: reads with deadlines, a stdin writer beside a reader, and a shutdown
//! from outside work on it as on the engine's own socket.

mod pump;
mod ssh;
mod tls;

use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pocketdock_proto::address::{route, tls_from_env, EngineAddress, Route};
use pocketdock_proto::engine::Located;
use pocketdock_proto::{Error, RemoteCause};

/// The longest a remote connection (tcp connect and TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An engine's address with what reaching it needs (TLS configuration, ssh settings), made
/// once per engine handle and shared by its clones.
#[derive(Debug, Clone)]
pub struct EngineEndpoint(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    text: String,
    /// The address as a path: the socket of a Unix address, the address's text otherwise.
    path: PathBuf,
    remote: bool,
    way: Result<Way, Error>,
}

#[derive(Debug)]
enum Way {
    Unix,
    Tcp {
        host: String,
        port: u16,
    },
    Tls {
        host: String,
        port: u16,
        setup: tls::TlsSetup,
    },
    Ssh(ssh::SshSetup),
}

impl PartialEq for EngineEndpoint {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for EngineEndpoint {}

impl EngineEndpoint {
    /// The endpoint of `text` (an address or a socket path), with TLS from the docker CLI's
    /// environment for `tcp://`. An address that cannot be used is kept with its error, which
    /// every connection then returns.
    pub fn parse(text: &str) -> Self {
        let env = |k: &str| std::env::var(k).ok();
        match EngineAddress::parse(text) {
            Ok(address) => {
                let tls = match address {
                    EngineAddress::Tcp { .. } => tls_from_env(&env),
                    _ => None,
                };
                let routed = route(&address, tls, None);
                Self::build(&address, routed)
            }
            Err(e) => Self(Arc::new(Inner {
                text: text.to_string(),
                path: PathBuf::from(text),
                remote: false,
                way: Err(e),
            })),
        }
    }

    /// The endpoint discovery found (its TLS files and ssh key included).
    pub fn located(located: &Located) -> Self {
        Self::build(&located.address, located.route())
    }

    /// The endpoint of an address with an explicit route (e.g. TLS files given by the caller).
    pub fn routed(address: &EngineAddress, route: Route) -> Self {
        Self::build(address, Ok(route))
    }

    fn build(address: &EngineAddress, routed: Result<Route, Error>) -> Self {
        let text = address.to_string();
        let refused = |cause| Error::RemoteEngine {
            address: text.clone(),
            cause,
        };
        let way = routed.and_then(|r| {
            Ok(match r {
                Route::Unix(_) => Way::Unix,
                Route::Tcp { host, port } => Way::Tcp { host, port },
                Route::Tls { host, port, files } => Way::Tls {
                    host,
                    port,
                    setup: tls::TlsSetup::new(&files).map_err(refused)?,
                },
                Route::Ssh { address, identity } => {
                    let config = std::env::var_os("POCKETDOCK_SSH_CONFIG")
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from);
                    Way::Ssh(ssh::SshSetup::new(&address, identity, config))
                }
            })
        });
        let path = address
            .unix_path()
            .map_or_else(|| PathBuf::from(&text), Path::to_path_buf);
        Self(Arc::new(Inner {
            text,
            path,
            remote: address.is_remote(),
            way,
        }))
    }

    /// The address, as `unix://PATH`, `tcp://HOST:PORT` or `ssh://...`.
    pub fn address(&self) -> &str {
        &self.0.text
    }

    /// The socket path of a local engine; for a remote one, its address as a path (it names
    /// no file).
    pub fn socket(&self) -> &Path {
        &self.0.path
    }

    /// The socket to connect to directly, for a local engine (an adapter connects to it with
    /// its own runtime); `None` when connections go through [`dial`](Self::dial).
    pub fn unix_path(&self) -> Option<&Path> {
        matches!(self.0.way, Ok(Way::Unix)).then_some(self.0.path.as_path())
    }

    /// `unix`, `tcp`, `tls` or `ssh` (`invalid` for an address that cannot be used).
    pub fn transport(&self) -> &'static str {
        match &self.0.way {
            Ok(Way::Unix) => "unix",
            Ok(Way::Tcp { .. }) => "tcp",
            Ok(Way::Tls { .. }) => "tls",
            Ok(Way::Ssh(_)) => "ssh",
            Err(_) => "invalid",
        }
    }

    /// Whether the engine runs on another machine: its volumes name paths there, its
    /// published ports bind there, while project instance directories stay on this one.
    pub fn is_remote(&self) -> bool {
        self.0.remote
    }

    /// Why this address cannot be used, if it cannot.
    pub fn problem(&self) -> Option<Error> {
        self.0.way.as_ref().err().map(Error::duplicate)
    }

    /// Open a connection (blocking: a tcp connect and TLS handshake, or an ssh login the first
    /// time), as a local stream.
    pub fn dial(&self) -> Result<UnixStream, Error> {
        let refused = |cause| Error::RemoteEngine {
            address: self.0.text.clone(),
            cause,
        };
        match self.0.way.as_ref().map_err(Error::duplicate)? {
            Way::Unix => UnixStream::connect(&self.0.path).map_err(|e| Error::SocketConnection {
                path: self.0.path.display().to_string(),
                detail: e.to_string(),
            }),
            Way::Tcp { host, port } => {
                let tcp = self.tcp(host, *port)?;
                pump::spawn(tcp, pump::Plain).map_err(|e| self.io(&e))
            }
            Way::Tls { host, port, setup } => {
                let mut tcp = self.tcp(host, *port)?;
                let conn = setup.handshake(host, &mut tcp).map_err(refused)?;
                tcp.set_read_timeout(None).map_err(|e| self.io(&e))?;
                tcp.set_write_timeout(None).map_err(|e| self.io(&e))?;
                pump::spawn(tcp, pump::Tls(conn)).map_err(|e| self.io(&e))
            }
            Way::Ssh(setup) => setup.dial().map_err(refused),
        }
    }

    fn io(&self, e: &std::io::Error) -> Error {
        Error::SocketConnection {
            path: self.0.text.clone(),
            detail: e.to_string(),
        }
    }

    /// A tcp connection under [`CONNECT_TIMEOUT`] (also its read and write timeouts, for the
    /// handshake), without Nagle's delay: requests are small and answered at once.
    fn tcp(&self, host: &str, port: u16) -> Result<TcpStream, Error> {
        let addrs = (host, port).to_socket_addrs().map_err(|e| self.io(&e))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(tcp) => {
                    let setup = tcp
                        .set_nodelay(true)
                        .and_then(|()| tcp.set_read_timeout(Some(CONNECT_TIMEOUT)))
                        .and_then(|()| tcp.set_write_timeout(Some(CONNECT_TIMEOUT)));
                    setup.map_err(|e| self.io(&e))?;
                    return Ok(tcp);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => self.io(&e),
            None => self.io(&std::io::Error::other("the host name resolves to nothing")),
        })
    }
}

/// The refusal an endpoint's connection would give, without connecting: for callers that
/// want to report a bad address early.
pub fn refusal(endpoint: &EngineEndpoint) -> Option<RemoteCause> {
    match endpoint.problem() {
        Some(Error::RemoteEngine { cause, .. }) => Some(cause),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn plain_tcp_to_a_remote_host_is_refused_before_any_connection() {
        let e = EngineEndpoint::parse("tcp://10.231.0.9:2375");
        assert_eq!(e.transport(), "invalid");
        assert_eq!(refusal(&e), Some(RemoteCause::PlainTcpNotLoopback));
        match e.dial() {
            Err(Error::RemoteEngine { address, cause }) => {
                assert_eq!(address, "tcp://10.231.0.9:2375");
                assert_eq!(cause, RemoteCause::PlainTcpNotLoopback);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unix_and_loopback_tcp_endpoints() {
        let e = EngineEndpoint::parse("unix:///nowhere/x.sock");
        assert_eq!(e.unix_path(), Some(Path::new("/nowhere/x.sock")));
        assert_eq!(e.socket(), Path::new("/nowhere/x.sock"));
        assert!(!e.is_remote());
        assert!(
            matches!(e.dial(), Err(Error::SocketConnection { path, .. }) if path == "/nowhere/x.sock")
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let e = EngineEndpoint::parse(&format!("tcp://127.0.0.1:{port}"));
        assert_eq!((e.transport(), e.unix_path()), ("tcp", None));
        let mut local = e.dial().expect("dial");
        let (mut server, _) = listener.accept().expect("accept");
        local.write_all(b"GET /_ping").expect("write");
        let mut buf = [0u8; 10];
        server.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"GET /_ping");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let e = EngineEndpoint::routed(
            &EngineAddress::parse("tcp://10.231.0.2:2376").expect("address"),
            Route::Tls {
                host: "10.231.0.2".into(),
                port: 2376,
                files: pocketdock_proto::address::TlsFiles::in_dir(Path::new("/nowhere")),
            },
        );
        match refusal(&e) {
            Some(RemoteCause::TlsFile { path, .. }) => assert_eq!(path, "/nowhere/ca.pem"),
            other => panic!("{other:?}"),
        }
    }
}
