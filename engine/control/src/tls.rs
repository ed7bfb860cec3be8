//! HTTPS control sockets (ARM 5.1.2 "TLS/HTTPS Configuration", 9.9.2): the server certificate
//! and key from `cert-file` / `key-file`, client certificates verified against
//! `trust-anchor` (a PEM file, or a directory of them) and demanded when `cert-required` (Kea's
//! default). Files are read when the control sockets are checked, so a bad path stops the
//! start (or the config) with its JSON path. Each connection carries one HTTP/1.1 request and
//! is closed after the answer, as Kea's clients expect.

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// What a request carried that the router needs.
pub(crate) struct HttpRequest {
    pub method: String,
    pub path: String,
    pub authorization: Vec<String>,
    pub body: Vec<u8>,
}

/// Why a request could not be read; answered with the status when there is one.
pub(crate) enum ReadError {
    TooLarge,
    Bad,
    Io,
}

/// The server's TLS set-up for one https control socket; `path` names the socket's config
/// entry in errors (`Dhcp4.control-sockets[1]`).
pub(crate) fn server_config(
    path: &str,
    trust_anchor: &str,
    cert_file: &str,
    key_file: &str,
    cert_required: bool,
) -> Result<Arc<ServerConfig>, (String, String)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| (format!("{path}.cert-file"), format!("{cert_file}: {e}")))?;
    if certs.is_empty() {
        return Err((
            format!("{path}.cert-file"),
            format!("{cert_file}: no PEM certificate in it"),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| (format!("{path}.key-file"), format!("{key_file}: {e}")))?;
    let roots =
        trust_anchors(trust_anchor).map_err(|reason| (format!("{path}.trust-anchor"), reason))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
    let verifier = if cert_required {
        verifier.build()
    } else {
        verifier.allow_unauthenticated().build()
    }
    .map_err(|e| {
        (
            format!("{path}.trust-anchor"),
            format!("{trust_anchor}: {e}"),
        )
    })?;
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (path.to_string(), e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| {
            (
                format!("{path}.key-file"),
                format!("{key_file} does not fit {cert_file}: {e}"),
            )
        })
}

/// The CA certificates of `trust-anchor`: a PEM file, or every PEM file in a directory
/// (Kea with OpenSSL reads a hashed directory; every certificate in it is what it trusts).
fn trust_anchors(trust_anchor: &str) -> Result<RootCertStore, String> {
    let p = Path::new(trust_anchor);
    let files: Vec<std::path::PathBuf> = if p.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .map_err(|e| format!("{trust_anchor}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![p.to_path_buf()]
    };
    let mut roots = RootCertStore::empty();
    for f in &files {
        let certs = CertificateDer::pem_file_iter(f)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", f.display()))?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", f.display()))?;
        }
    }
    if roots.is_empty() {
        return Err(format!("{trust_anchor}: no PEM CA certificate in it"));
    }
    Ok(roots)
}

/// Reads one HTTP/1.1 request (request line, headers, a Content-Length body of at most
/// `max_body` bytes) from a TLS stream.
pub(crate) fn read_request(
    stream: &mut impl Read,
    max_body: usize,
) -> Result<HttpRequest, ReadError> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut head_bytes = 0usize;
    let mut next_line =
        |reader: &mut BufReader<&mut _>, line: &mut String| -> Result<(), ReadError> {
            line.clear();
            let n = reader
                .by_ref()
                .take(8192)
                .read_line(line)
                .map_err(|_| ReadError::Io)?;
            head_bytes += n;
            if n == 0 || head_bytes > 64 * 1024 {
                return Err(ReadError::Bad);
            }
            Ok(())
        };
    next_line(&mut reader, &mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or(ReadError::Bad)?.to_string();
    let path = parts.next().ok_or(ReadError::Bad)?.to_string();
    let mut authorization = Vec::new();
    let mut length = 0usize;
    loop {
        next_line(&mut reader, &mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(ReadError::Bad);
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| ReadError::Bad)?;
        } else if name.eq_ignore_ascii_case("authorization") {
            authorization.push(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Kea's clients send sized bodies; a chunked one is refused, not misread.
            return Err(ReadError::Bad);
        }
    }
    if length > max_body {
        return Err(ReadError::TooLarge);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).map_err(|_| ReadError::Io)?;
    Ok(HttpRequest {
        method,
        path,
        authorization,
        body,
    })
}

/// Writes one answer with a Content-Length, then the connection closes.
pub(crate) fn write_response(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}
