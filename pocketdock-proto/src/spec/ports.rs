//! Published ports: parsing `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]` and the loopback default.

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Result};

/// Host IP published ports bind to when none is given.
pub const DEFAULT_HOST_IP: &str = "127.0.0.1";

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published port: `host_ip:host_port` on the host forwards to `container_port/protocol`.
///
/// Several mappings may share one container port (`8080:80` and `8081:80` both work, unlike the
/// Python pocketdock, which kept only the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port on the host, 1-65535.
    pub host_port: u16,
    /// Port in the container, 1-65535.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Host address to bind; `None` means [`DEFAULT_HOST_IP`] (`127.0.0.1`). Use `0.0.0.0` to
    /// publish on every interface.
    pub host_ip: Option<String>,
}

impl PortMapping {
    /// A TCP mapping bound to `127.0.0.1`.
    pub fn tcp(host_port: u16, container_port: u16) -> Self {
        Self {
            host_port,
            container_port,
            protocol: Protocol::Tcp,
            host_ip: None,
        }
    }

    /// A UDP mapping bound to `127.0.0.1`.
    pub fn udp(host_port: u16, container_port: u16) -> Self {
        Self {
            protocol: Protocol::Udp,
            ..Self::tcp(host_port, container_port)
        }
    }

    /// Bind to this host address instead of `127.0.0.1`.
    pub fn on(mut self, host_ip: impl Into<String>) -> Self {
        self.host_ip = Some(host_ip.into());
        self
    }

    /// Parse `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]` as given on the command line
    /// (an IPv6 host address may be written in brackets: `[::1]:8080:80`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("ports", format!("{s:?}: {why}"));
        let (addr, protocol) = match s.rsplit_once('/') {
            Some((a, "tcp")) => (a, Protocol::Tcp),
            Some((a, "udp")) => (a, Protocol::Udp),
            Some(_) => return Err(bad("protocol must be tcp or udp")),
            None => (s, Protocol::Tcp),
        };
        let Some((rest, container)) = addr.rsplit_once(':') else {
            return Err(bad("expected HOST_PORT:CONTAINER_PORT"));
        };
        let (ip, host) = match rest.rsplit_once(':') {
            Some((ip, host)) => {
                let ip = ip
                    .strip_prefix('[')
                    .and_then(|i| i.strip_suffix(']'))
                    .unwrap_or(ip);
                (Some(ip.to_string()), host)
            }
            None => (None, rest),
        };
        let mapping = Self {
            host_port: parse_port(host).map_err(|why| bad(&why))?,
            container_port: parse_port(container).map_err(|why| bad(&why))?,
            protocol,
            host_ip: ip,
        };
        mapping.validate()?;
        Ok(mapping)
    }

    /// The host IP this mapping binds to.
    pub fn effective_host_ip(&self) -> &str {
        self.host_ip.as_deref().unwrap_or(DEFAULT_HOST_IP)
    }

    /// The `PortBindings`/`ExposedPorts` key, e.g. `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    pub(super) fn validate(&self) -> Result<()> {
        if self.host_port == 0 || self.container_port == 0 {
            return Err(Error::invalid(
                "ports",
                format!(
                    "{}:{}: ports must be between 1 and 65535",
                    self.host_port, self.container_port
                ),
            ));
        }
        if let Some(ip) = &self.host_ip {
            if ip.parse::<IpAddr>().is_err() {
                return Err(Error::invalid(
                    "ports",
                    format!("host IP {ip:?} is not an IP address"),
                ));
            }
        }
        Ok(())
    }
}

fn parse_port(s: &str) -> std::result::Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {s:?} is not a number"));
    }
    match s.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => u16::try_from(n).map_err(|e| e.to_string()),
        _ => Err(format!("port {s} must be between 1 and 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::test_support::field_of;

    #[test]
    fn port_parsing() {
        let table: &[(&str, u16, u16, Protocol, Option<&str>)] = &[
            ("8080:80", 8080, 80, Protocol::Tcp, None),
            ("8080:80/tcp", 8080, 80, Protocol::Tcp, None),
            ("53:53/udp", 53, 53, Protocol::Udp, None),
            ("0.0.0.0:8080:80", 8080, 80, Protocol::Tcp, Some("0.0.0.0")),
            ("[::1]:1:65535/udp", 1, 65535, Protocol::Udp, Some("::1")),
        ];
        for (s, h, c, proto, ip) in table {
            let m = PortMapping::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (m.host_port, m.container_port, m.protocol),
                (*h, *c, *proto)
            );
            assert_eq!(m.host_ip.as_deref(), *ip);
        }
        for bad in [
            "",
            "80",
            "0:80",
            "80:0",
            "65536:80",
            "80:65536",
            "a:80",
            "80:b",
            "8080:80/sctp",
            "8080:80/",
            "-1:80",
            "nothost:8080:80",
            "1.2.3:8080:80",
            ":80",
            "80:",
        ] {
            assert_eq!(field_of(PortMapping::parse(bad)), "ports", "{bad:?}");
        }
    }
}
