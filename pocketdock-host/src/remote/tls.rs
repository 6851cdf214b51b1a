//! Mutual TLS to an engine's tcp listener, with rustls: the configuration made from the CA,
//! certificate and key files, and the handshake that turns its failures into a cause a user
//! can act on.

use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pocketdock_proto::address::TlsFiles;
use pocketdock_proto::RemoteCause;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ClientConnection, RootCertStore, SignatureScheme};

/// A client configuration for one engine, made once per engine handle.
#[derive(Debug)]
pub(crate) struct TlsSetup {
    config: Arc<ClientConfig>,
    files: TlsFiles,
    /// Set when an engine asked for a client certificate and none is configured.
    asked: Option<Arc<AtomicBool>>,
}

fn file_error(path: &Path, detail: impl std::fmt::Display) -> RemoteCause {
    RemoteCause::TlsFile {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

/// Answers a certificate request with nothing, remembering that it was asked.
#[derive(Debug)]
struct NoCertificate(Arc<AtomicBool>);

impl ResolvesClientCert for NoCertificate {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.store(true, Ordering::Release);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

impl TlsSetup {
    /// Read the files and build the configuration. A client certificate is used when both it
    /// and its key exist; neither is fine (the engine may not ask), one without the other is
    /// an error.
    pub(crate) fn new(files: &TlsFiles) -> Result<Self, RemoteCause> {
        let mut roots = RootCertStore::empty();
        let certs =
            CertificateDer::pem_file_iter(&files.ca).map_err(|e| file_error(&files.ca, e))?;
        for cert in certs {
            let cert = cert.map_err(|e| file_error(&files.ca, e))?;
            roots.add(cert).map_err(|e| file_error(&files.ca, e))?;
        }
        if roots.is_empty() {
            return Err(file_error(&files.ca, "no certificate in the file"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| RemoteCause::TlsHandshake(e.to_string()))?
            .with_root_certificates(roots);
        let exists = |p: &Option<std::path::PathBuf>| p.as_ref().filter(|p| p.exists()).cloned();
        let (config, asked) = match (exists(&files.cert), exists(&files.key)) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(&cert)
                    .map_err(|e| file_error(&cert, e))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| file_error(&cert, e))?;
                if chain.is_empty() {
                    return Err(file_error(&cert, "no certificate in the file"));
                }
                let key_der =
                    PrivateKeyDer::from_pem_file(&key).map_err(|e| file_error(&key, e))?;
                let config = builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| file_error(&key, e))?;
                (config, None)
            }
            (None, None) => {
                let asked = Arc::new(AtomicBool::new(false));
                let config =
                    builder.with_client_cert_resolver(Arc::new(NoCertificate(Arc::clone(&asked))));
                (config, Some(asked))
            }
            (Some(_), None) => {
                let key = files.key.as_deref().unwrap_or(Path::new("key.pem"));
                return Err(file_error(
                    key,
                    "missing (the client certificate needs its key)",
                ));
            }
            (None, Some(_)) => {
                let cert = files.cert.as_deref().unwrap_or(Path::new("cert.pem"));
                return Err(file_error(cert, "missing (the key needs its certificate)"));
            }
        };
        Ok(Self {
            config: Arc::new(config),
            files: files.clone(),
            asked,
        })
    }

    /// Run the handshake over `tcp` (whose timeouts bound it) with `host` as the name the
    /// engine's certificate must carry.
    pub(crate) fn handshake(
        &self,
        host: &str,
        tcp: &mut TcpStream,
    ) -> Result<ClientConnection, RemoteCause> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            RemoteCause::TlsHandshake(format!("{host:?} is not a server name: {e}"))
        })?;
        let mut conn = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| RemoteCause::TlsHandshake(e.to_string()))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(tcp) {
                return Err(self.cause(&e));
            }
        }
        if self
            .asked
            .as_ref()
            .is_some_and(|a| a.load(Ordering::Acquire))
        {
            return Err(RemoteCause::TlsClientCertificateMissing);
        }
        Ok(conn)
    }

    fn cause(&self, e: &io::Error) -> RemoteCause {
        let tls = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        match tls {
            Some(rustls::Error::InvalidCertificate(c)) => RemoteCause::TlsUntrusted {
                ca: self.files.ca.display().to_string(),
                detail: format!("{c:?}"),
            },
            Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired))
                if self.asked.is_some() =>
            {
                RemoteCause::TlsClientCertificateMissing
            }
            Some(other) => RemoteCause::TlsHandshake(other.to_string()),
            None if e.kind() == io::ErrorKind::UnexpectedEof
                && self
                    .asked
                    .as_ref()
                    .is_some_and(|a| a.load(Ordering::Acquire)) =>
            {
                RemoteCause::TlsClientCertificateMissing
            }
            None => RemoteCause::TlsHandshake(e.to_string()),
        }
    }
}
