//! The control sockets (ARM 9.9): one unix stream socket (mode 0600; one JSON command in, one
//! response out, then Kea closes the connection) and any number of HTTP listeners (`POST /`
//! with a command, answered with the response wrapped in a JSON list as Kea's HTTP channel
//! does; `GET /metrics`; basic authentication when `authentication.clients` is not empty).
//! Each listener runs on its own plain thread and polls a stop flag, so shutdown is prompt.

use crate::Control;
use base64::Engine;
use corelease_config::{ControlSocket, ControlSocketType};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest command accepted (a config-test carries a whole configuration).
const MAX_COMMAND_BYTES: usize = 64 << 20;
/// How long a client may take to send its command.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often idle listeners look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Why the control sockets could not be opened; the path names the config entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("{path}: {reason}")]
    Config { path: String, reason: String },
    #[error("{path}: cannot listen on unix socket {socket}: {source}")]
    Unix {
        path: String,
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot listen on http://{addr}: {reason}")]
    Http {
        path: String,
        addr: String,
        reason: String,
    },
}

/// The running control sockets; stopped (and the unix socket file removed) on drop.
pub struct ControlServer {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The unix socket threads, with the path a connection to wakes their blocking accept.
    unix_threads: Vec<(PathBuf, JoinHandle<()>)>,
}

impl ControlServer {
    /// Opens every configured control socket and serves `control` on them. `raw` is the whole
    /// configuration document, used to name entries in errors the way the file spells them
    /// (`Dhcp4.control-socket` or `Dhcp4.control-sockets[i]`).
    pub fn start(
        sockets: &[ControlSocket],
        raw: &Value,
        control: Arc<Control>,
    ) -> Result<ControlServer, ServeError> {
        let checked = Self::check(sockets, raw)?;
        let mut server = ControlServer {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            unix_threads: Vec::new(),
        };
        for (s, (path, auth, tls)) in sockets.iter().zip(checked) {
            match (s.socket_type, tls) {
                (ControlSocketType::Unix, _) => {
                    server.start_unix(s, &path, Arc::clone(&control))?
                }
                (_, Some(tls)) => server.start_https(s, &path, tls, auth, Arc::clone(&control))?,
                (_, None) => server.start_http(s, &path, auth, Arc::clone(&control))?,
            }
        }
        Ok(server)
    }

    /// Checks what can be checked without binding (authentication, socket types), so a server
    /// refuses a bad control socket before it starts serving DHCP, as Kea refuses the config.
    pub fn validate(sockets: &[ControlSocket], raw: &Value) -> Result<(), ServeError> {
        Self::check(sockets, raw).map(|_| ())
    }

    /// Each socket's JSON path and parsed authentication.
    fn check(sockets: &[ControlSocket], raw: &Value) -> Result<Vec<Checked>, ServeError> {
        let single = raw
            .get("Dhcp4")
            .and_then(|d| d.get("control-socket"))
            .is_some();
        let mut out = Vec::with_capacity(sockets.len());
        for (i, s) in sockets.iter().enumerate() {
            let path = if single {
                "Dhcp4.control-socket".to_string()
            } else {
                format!("Dhcp4.control-sockets[{i}]")
            };
            let tls = tls_of(s, &path)?;
            let auth = match (&s.authentication, s.socket_type) {
                (Some(a), ControlSocketType::Http | ControlSocketType::Https) => {
                    parse_authentication(a, &format!("{path}.authentication"))?
                }
                _ => None,
            };
            out.push((path, auth, tls));
        }
        Ok(out)
    }

    /// Where the unix socket of the config lives: a bare name goes into
    /// KEA_CONTROL_SOCKET_DIR (default /run/kea), as Kea 2.7.9+ does (ARM 9.9.1).
    pub fn unix_socket_path(socket_name: &str) -> PathBuf {
        let p = Path::new(socket_name);
        if p.is_absolute() || socket_name.contains('/') {
            return p.to_path_buf();
        }
        let dir = std::env::var_os("KEA_CONTROL_SOCKET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/run/kea"));
        dir.join(p)
    }

    fn start_unix(
        &mut self,
        s: &ControlSocket,
        path: &str,
        control: Arc<Control>,
    ) -> Result<(), ServeError> {
        let name = s.socket_name.as_deref().unwrap_or("");
        let socket = Self::unix_socket_path(name);
        let err = |source| ServeError::Unix {
            path: format!("{path}.socket-name"),
            socket: socket.clone(),
            source,
        };
        // A socket file left by a previous run that died: Kea removes it too.
        if let Ok(meta) = std::fs::symlink_metadata(&socket) {
            if meta.file_type().is_socket() && UnixStream::connect(&socket).is_err() {
                let _ = std::fs::remove_file(&socket);
            }
        }
        let listener = UnixListener::bind(&socket).map_err(err)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        let stop = Arc::clone(&self.stop);
        let t = std::thread::Builder::new()
            .name("control-unix".into())
            .spawn(move || serve_unix(listener, control, stop))
            .map_err(err)?;
        self.unix_threads.push((socket.clone(), t));
        tracing::info!(target: "COMMAND_ACCEPTOR_START", socket = %socket.display(), "control socket listening");
        Ok(())
    }

    fn start_http(
        &mut self,
        s: &ControlSocket,
        path: &str,
        auth: Option<BasicAuth>,
        control: Arc<Control>,
    ) -> Result<(), ServeError> {
        let addr = std::net::SocketAddr::new(s.socket_address, s.socket_port);
        let http = tiny_http::Server::http(addr).map_err(|e| ServeError::Http {
            path: path.to_string(),
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let headers = s.http_headers.clone();
        let stop = Arc::clone(&self.stop);
        let t = std::thread::Builder::new()
            .name("control-http".into())
            .spawn(move || serve_http(http, control, auth, headers, stop))
            .map_err(|e| ServeError::Http {
                path: path.to_string(),
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        self.threads.push(t);
        tracing::info!(target: "HTTP_COMMAND_MGR_SERVICE_STARTED", address = %addr, "HTTP control socket listening");
        Ok(())
    }

    fn start_https(
        &mut self,
        s: &ControlSocket,
        path: &str,
        tls: Arc<rustls::ServerConfig>,
        auth: Option<BasicAuth>,
        control: Arc<Control>,
    ) -> Result<(), ServeError> {
        let addr = std::net::SocketAddr::new(s.socket_address, s.socket_port);
        let err = |e: std::io::Error| ServeError::Http {
            path: path.to_string(),
            addr: format!("https://{addr}"),
            reason: e.to_string(),
        };
        let listener = std::net::TcpListener::bind(addr).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let headers = s.http_headers.clone();
        let stop = Arc::clone(&self.stop);
        let t = std::thread::Builder::new()
            .name("control-https".into())
            .spawn(move || serve_https(listener, tls, control, auth, headers, stop))
            .map_err(err)?;
        self.threads.push(t);
        tracing::info!(target: "HTTP_COMMAND_MGR_SERVICE_STARTED", address = %addr, cert_required = s.cert_required, "HTTPS control socket listening");
        Ok(())
    }

    /// Stops every listener (after the request in progress) and removes the unix socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for (p, t) in self.unix_threads.drain(..) {
            // The listener blocks in accept: one connection wakes it to see the flag. If the
            // socket file is gone nothing can wake it; the thread ends with the process.
            if UnixStream::connect(&p).is_ok() {
                let _ = t.join();
            }
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A checked control socket: its JSON path, basic authentication, TLS set-up.
type Checked = (String, Option<BasicAuth>, Option<Arc<rustls::ServerConfig>>);

/// The TLS set-up of an http(s) socket (ARM 5.1.2): trust-anchor, cert-file and key-file all
/// given (https needs them; on http they switch TLS on, "i.e. HTTPS") or none; the files are
/// read now, so a bad one is reported with its JSON path before anything starts.
fn tls_of(s: &ControlSocket, path: &str) -> Result<Option<Arc<rustls::ServerConfig>>, ServeError> {
    if s.socket_type == ControlSocketType::Unix {
        return Ok(None);
    }
    match (&s.trust_anchor, &s.cert_file, &s.key_file) {
        (None, None, None) if s.socket_type == ControlSocketType::Http => Ok(None),
        (Some(ta), Some(cert), Some(key)) => {
            crate::tls::server_config(path, ta, cert, key, s.cert_required)
                .map(Some)
                .map_err(|(path, reason)| ServeError::Config { path, reason })
        }
        _ => Err(config_err(
            path.to_string(),
            "trust-anchor, cert-file and key-file must be all given (TLS) or none (plain HTTP)",
        )),
    }
}

/// Basic authentication (ARM 9.9.2): accepted `Authorization` tokens and the realm.
#[derive(Debug, Clone)]
struct BasicAuth {
    realm: String,
    tokens: Vec<String>,
}

fn config_err(path: String, reason: impl Into<String>) -> ServeError {
    ServeError::Config {
        path,
        reason: reason.into(),
    }
}

/// Parses an `authentication` map; None when no client is configured (no auth required).
fn parse_authentication(a: &Value, path: &str) -> Result<Option<BasicAuth>, ServeError> {
    let m = a
        .as_object()
        .ok_or_else(|| config_err(path.to_string(), "must be a map"))?;
    match m.get("type").and_then(Value::as_str) {
        Some("basic") => {}
        Some(other) => {
            return Err(config_err(
                format!("{path}.type"),
                format!("'{other}' is not supported (only 'basic')"),
            ))
        }
        None => {
            return Err(config_err(
                path.to_string(),
                "mandatory 'type' parameter is missing",
            ))
        }
    }
    let realm = match m.get("realm") {
        None => "kea-dhcpv4-server".to_string(),
        Some(Value::String(r)) => r.clone(),
        Some(_) => return Err(config_err(format!("{path}.realm"), "must be a string")),
    };
    let directory = match m.get("directory") {
        None => PathBuf::new(),
        Some(Value::String(d)) => PathBuf::from(d),
        Some(_) => return Err(config_err(format!("{path}.directory"), "must be a string")),
    };
    let clients = match m.get("clients") {
        None => return Ok(None),
        Some(Value::Array(c)) => c,
        Some(_) => return Err(config_err(format!("{path}.clients"), "must be a list")),
    };
    let read = |p: &str, file: &str| -> Result<String, ServeError> {
        let f = directory.join(file);
        std::fs::read_to_string(&f)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| config_err(p.to_string(), format!("cannot read {}: {e}", f.display())))
    };
    let mut tokens = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let p = format!("{path}.clients[{i}]");
        let c = c
            .as_object()
            .ok_or_else(|| config_err(p.clone(), "must be a map"))?;
        let text = |k: &str| -> Result<Option<String>, ServeError> {
            match c.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(config_err(format!("{p}.{k}"), "must be a string")),
            }
        };
        let user = match (text("user")?, text("user-file")?) {
            (Some(u), _) => Some(u),
            (None, Some(f)) => Some(read(&format!("{p}.user-file"), &f)?),
            (None, None) => None,
        };
        let password = match (text("password")?, text("password-file")?) {
            (Some(pw), _) => pw,
            (None, Some(f)) => read(&format!("{p}.password-file"), &f)?,
            (None, None) => String::new(),
        };
        // A password file without a user holds the whole "user:password" secret.
        let secret = match user {
            Some(u) if u.is_empty() || u.contains(':') => {
                return Err(config_err(
                    format!("{p}.user"),
                    "must not be empty nor contain ':'",
                ))
            }
            Some(u) => format!("{u}:{password}"),
            None if c.contains_key("password-file") => password,
            None => return Err(config_err(p, "mandatory 'user' parameter is missing")),
        };
        tokens.push(base64::engine::general_purpose::STANDARD.encode(secret.as_bytes()));
    }
    Ok((!tokens.is_empty()).then_some(BasicAuth { realm, tokens }))
}

fn serve_unix(listener: UnixListener, control: Arc<Control>, stop: Arc<AtomicBool>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                if let Err(e) = answer_unix(stream, &control) {
                    tracing::warn!(target: "COMMAND_SOCKET_READ_FAIL", "control connection: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "COMMAND_ACCEPTOR_ERROR", "accept: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Reads one command (until it parses as JSON or the peer shuts its side), answers, closes.
fn answer_unix(mut stream: UnixStream, control: &Control) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 65536];
    loop {
        let n = stream.read(&mut chunk)?;
        if let Some(c) = chunk.get(..n) {
            buf.extend_from_slice(c);
        }
        if n == 0 || serde_json::from_slice::<Value>(&buf).is_ok() {
            break;
        }
        if buf.len() > MAX_COMMAND_BYTES || Instant::now() > deadline {
            break;
        }
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let response = control.handle_bytes(&buf);
    stream.write_all(response.to_string().as_bytes())?;
    stream.flush()
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn serve_http(
    http: tiny_http::Server,
    control: Arc<Control>,
    auth: Option<BasicAuth>,
    extra_headers: Vec<(String, String)>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Acquire) {
        let req = match http.recv_timeout(POLL) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(target: "HTTP_COMMAND_MGR_ERROR", "HTTP control socket: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        if let Err(e) = answer_http(req, &control, auth.as_ref(), &extra_headers) {
            tracing::warn!(target: "HTTP_COMMAND_MGR_ERROR", "HTTP control response: {e}");
        }
    }
}

fn authorized<'a>(mut authorization: impl Iterator<Item = &'a str>, auth: &BasicAuth) -> bool {
    authorization.any(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
            .is_some_and(|token| auth.tokens.iter().any(|t| t == token.trim()))
    })
}

/// One HTTP answer, whatever carries it (tiny_http, or the TLS stream of an https socket).
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    /// WWW-Authenticate, on a 401.
    challenge: Option<String>,
}

const JSON_TYPE: &str = "application/json";

/// Kea's HTTP channel: basic authentication (401 with a JSON body and the realm), `GET
/// /metrics`, `POST` with a command answered in a JSON list. `body` reads the request body
/// (Err: longer than MAX_COMMAND_BYTES); it is read only once the request is authorized.
fn route<'a>(
    control: &Control,
    auth: Option<&BasicAuth>,
    method: &str,
    url: &str,
    authorization: impl Iterator<Item = &'a str>,
    body: impl FnOnce() -> Result<Vec<u8>, ()>,
) -> Answer {
    if let Some(a) = auth {
        if !authorized(authorization, a) {
            return Answer {
                status: 401,
                content_type: JSON_TYPE,
                body: r#"{ "result": 401, "text": "Unauthorized" }"#.into(),
                challenge: Some(format!("Basic realm=\"{}\"", a.realm)),
            };
        }
    }
    let path = url.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => Answer {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: control.metrics(),
            challenge: None,
        },
        ("POST", _) => match body() {
            Ok(body) => Answer {
                status: 200,
                content_type: JSON_TYPE,
                body: Value::Array(vec![control.handle_bytes(&body)]).to_string(),
                challenge: None,
            },
            Err(()) => Answer {
                status: 413,
                content_type: JSON_TYPE,
                body: r#"{ "result": 413, "text": "Payload Too Large" }"#.into(),
                challenge: None,
            },
        },
        _ => Answer {
            status: 400,
            content_type: JSON_TYPE,
            body: r#"{ "result": 400, "text": "Bad Request" }"#.into(),
            challenge: None,
        },
    }
}

fn answer_http(
    mut req: tiny_http::Request,
    control: &Control,
    auth: Option<&BasicAuth>,
    extra_headers: &[(String, String)],
) -> std::io::Result<()> {
    let method = req.method().as_str().to_ascii_uppercase();
    let url = req.url().to_string();
    let authorization: Vec<String> = req
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string())
        .collect();
    let reader = req.as_reader();
    let answer = route(
        control,
        auth,
        &method,
        &url,
        authorization.iter().map(String::as_str),
        || {
            let mut body = Vec::new();
            let limited = reader
                .take(MAX_COMMAND_BYTES as u64 + 1)
                .read_to_end(&mut body);
            if limited.is_err() || body.len() > MAX_COMMAND_BYTES {
                Err(())
            } else {
                Ok(body)
            }
        },
    );
    // Always Content-Length, never chunked: Kea's clients read one sized body.
    let mut resp = tiny_http::Response::from_string(answer.body)
        .with_status_code(answer.status)
        .with_chunked_threshold(usize::MAX);
    let challenge = answer
        .challenge
        .and_then(|c| header("WWW-Authenticate", &c));
    for h in [header("Content-Type", answer.content_type), challenge]
        .into_iter()
        .flatten()
    {
        resp.add_header(h);
    }
    for (n, v) in extra_headers {
        if let Some(h) = header(n, v) {
            resp.add_header(h);
        }
    }
    req.respond(resp)
}

/// An https control socket: TLS per connection on this thread (control traffic is one
/// operator request at a time), one request per connection.
fn serve_https(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    control: Arc<Control>,
    auth: Option<BasicAuth>,
    extra_headers: Vec<(String, String)>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Acquire) {
        let tcp = match listener.accept() {
            Ok((tcp, _)) => tcp,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => {
                tracing::warn!(target: "HTTP_COMMAND_MGR_ERROR", "HTTPS control socket: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        if let Err(e) = answer_https(tcp, &tls, &control, auth.as_ref(), &extra_headers) {
            // A client without an accepted certificate ends here (the handshake failed).
            tracing::warn!(target: "HTTP_COMMAND_MGR_ERROR", "HTTPS control connection: {e}");
        }
    }
}

fn answer_https(
    tcp: std::net::TcpStream,
    tls: &Arc<rustls::ServerConfig>,
    control: &Control,
    auth: Option<&BasicAuth>,
    extra_headers: &[(String, String)],
) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    tcp.set_write_timeout(Some(READ_TIMEOUT))?;
    let conn = rustls::ServerConnection::new(Arc::clone(tls)).map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let answer = match crate::tls::read_request(&mut stream, MAX_COMMAND_BYTES) {
        Ok(req) => {
            let method = req.method.to_ascii_uppercase();
            let body = req.body;
            route(
                control,
                auth,
                &method,
                &req.path,
                req.authorization.iter().map(String::as_str),
                move || Ok(body),
            )
        }
        Err(crate::tls::ReadError::TooLarge) => Answer {
            status: 413,
            content_type: JSON_TYPE,
            body: r#"{ "result": 413, "text": "Payload Too Large" }"#.into(),
            challenge: None,
        },
        Err(crate::tls::ReadError::Bad) => Answer {
            status: 400,
            content_type: JSON_TYPE,
            body: r#"{ "result": 400, "text": "Bad Request" }"#.into(),
            challenge: None,
        },
        Err(crate::tls::ReadError::Io) => {
            return Err(std::io::Error::other(
                "the client closed the connection or the TLS handshake failed",
            ))
        }
    };
    let mut headers = vec![("Content-Type".to_string(), answer.content_type.to_string())];
    if let Some(c) = answer.challenge {
        headers.push(("WWW-Authenticate".to_string(), c));
    }
    headers.extend(extra_headers.iter().cloned());
    crate::tls::write_response(&mut stream, answer.status, &headers, &answer.body)?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_auth_tokens_are_base64_of_user_colon_password() {
        let a = parse_authentication(
            &json!({ "type": "basic", "clients": [ { "user": "admin", "password": "1234" } ] }),
            "Dhcp4.control-sockets[0].authentication",
        )
        .expect("valid")
        .expect("clients configured");
        assert_eq!(a.tokens, vec!["YWRtaW46MTIzNA==".to_string()]);
        assert_eq!(a.realm, "kea-dhcpv4-server");
    }

    #[test]
    fn authentication_without_clients_requires_nothing() {
        let a = parse_authentication(&json!({ "type": "basic" }), "p").expect("valid");
        assert!(a.is_none());
    }

    #[test]
    fn tls_settings_are_all_or_none_and_bad_files_name_their_key() {
        let mut s = ControlSocket {
            socket_type: ControlSocketType::Http,
            socket_name: None,
            socket_address: std::net::IpAddr::from([127, 0, 0, 1]),
            socket_port: 8000,
            http_headers: Vec::new(),
            trust_anchor: None,
            cert_file: None,
            key_file: None,
            cert_required: true,
            authentication: None,
            user_context: None,
        };
        assert!(matches!(tls_of(&s, "P"), Ok(None)), "plain http");
        s.cert_file = Some("/nonexistent/c.pem".into());
        let e = tls_of(&s, "P").expect_err("partial");
        assert!(
            e.to_string()
                .starts_with("P: trust-anchor, cert-file and key-file"),
            "{e}"
        );
        s.trust_anchor = Some("/nonexistent/ca.pem".into());
        s.key_file = Some("/nonexistent/k.pem".into());
        let e = tls_of(&s, "P").expect_err("missing files");
        assert!(
            e.to_string()
                .starts_with("P.cert-file: /nonexistent/c.pem:"),
            "{e}"
        );
        s.socket_type = ControlSocketType::Https;
        s.trust_anchor = None;
        s.cert_file = None;
        s.key_file = None;
        assert!(tls_of(&s, "P").is_err(), "https without TLS files");
    }

    #[test]
    fn authentication_errors_name_the_json_path() {
        let e = parse_authentication(
            &json!({ "type": "basic", "clients": [ { "user": "a:b" } ] }),
            "Dhcp4.control-sockets[1].authentication",
        )
        .expect_err("colon in user");
        assert_eq!(
            e.to_string(),
            "Dhcp4.control-sockets[1].authentication.clients[0].user: must not be empty nor contain ':'"
        );
        let e = parse_authentication(&json!({ "type": "digest" }), "A").expect_err("type");
        assert_eq!(
            e.to_string(),
            "A.type: 'digest' is not supported (only 'basic')"
        );
    }

    #[test]
    fn bare_socket_name_goes_into_the_control_socket_dir() {
        assert_eq!(
            ControlServer::unix_socket_path("/tmp/x.sock"),
            PathBuf::from("/tmp/x.sock")
        );
        let p = ControlServer::unix_socket_path("kea4-ctrl-socket");
        assert!(p.ends_with("kea4-ctrl-socket"), "{}", p.display());
        assert!(p.is_absolute() || std::env::var_os("KEA_CONTROL_SOCKET_DIR").is_some());
    }
}
