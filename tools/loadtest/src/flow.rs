//! The load generator: N keep-alive connections, each looping the full flow back to back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng as _;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::service::CAPTCHA;

/// What one run measured.
#[derive(Default)]
pub struct Outcome {
    /// Flows whose two requests both succeeded (image, then errno "0").
    pub flows: u64,
    /// Failures by kind, e.g. `POST errno 4201`.
    pub errors: BTreeMap<String, u64>,
    /// Latency of each successful request, microseconds.
    pub get_us: Vec<u32>,
    pub post_us: Vec<u32>,
    pub elapsed: Duration,
}

impl Outcome {
    fn fail(&mut self, what: String) {
        *self.errors.entry(what).or_default() += 1;
    }

    fn merge(&mut self, other: Outcome) {
        self.flows += other.flows;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.get_us.extend(other.get_us);
        self.post_us.extend(other.post_us);
    }
}

/// `connections` clients looping flows until `duration` has passed; a flow under way then
/// finishes.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let deadline = start + duration;
    let clients: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(addr, deadline)))
        .collect();
    let mut total = Outcome::default();
    for c in clients {
        total.merge(c.await.context("a client task failed")??);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

async fn client(addr: SocketAddr, deadline: Instant) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let mut conn = Conn::open(addr).await?;
    while Instant::now() < deadline {
        let id = format!("lt{:016x}", rand::random::<u64>());
        let t0 = Instant::now();
        let got = conn
            .request(Method::GET, &format!("/api/v1.0/image_codes/{id}"), None)
            .await;
        let t1 = Instant::now();
        match got {
            Ok((StatusCode::OK, Some(ctype), _)) if ctype.starts_with("image/") => {
                out.get_us.push(micros(t1 - t0));
            }
            Ok((status, _, body)) => {
                out.fail(format!("GET {status} {}", errno(&body)));
                continue;
            }
            Err(e) => {
                out.fail(format!("GET failed: {e:#}"));
                conn = Conn::open(addr).await?;
                continue;
            }
        }
        let body = format!(
            r#"{{"mobile":"{}","image_code":"{CAPTCHA}","image_code_id":"{id}"}}"#,
            mobile()
        );
        let t2 = Instant::now();
        let sent = conn
            .request(Method::POST, "/api/v1.0/sms_codes", Some(body))
            .await;
        let t3 = Instant::now();
        match sent {
            Ok((StatusCode::OK, _, body)) if errno(&body) == "0" => {
                out.post_us.push(micros(t3 - t2));
                out.flows += 1;
            }
            Ok((status, _, body)) => out.fail(format!(
                "POST {status} errno {} {}",
                errno(&body),
                field(&body, "errmsg")
            )),
            Err(e) => {
                out.fail(format!("POST failed: {e:#}"));
                conn = Conn::open(addr).await?;
            }
        }
    }
    Ok(out)
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// A fresh valid mobile, `1[3-9]` and nine digits, never the same twice in a run (a counter
/// from a random start), so that no per-mobile limit ever refuses.
fn mobile() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| rand::rng().random_range(0..7_000_000_000));
    let n = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 7_000_000_000;
    format!("1{}{:09}", 3 + n / 1_000_000_000, n % 1_000_000_000)
}

/// The `errno` of a JSON reply, or `?`.
fn errno(body: &[u8]) -> String {
    field(body, "errno")
}

/// A string field of a JSON reply, or `?`.
fn field(body: &[u8], name: &str) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|reply| reply.get(name)?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// One keep-alive HTTP/1.1 connection that keeps the `csrf_token` cookie, as a browser would.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    cookie: Option<HeaderValue>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
            cookie: None,
        })
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        json: Option<String>,
    ) -> anyhow::Result<(StatusCode, Option<String>, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(cookie) = &self.cookie {
            req = req.header(COOKIE, cookie.clone());
        }
        let body = match json {
            Some(json) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await?;
        let res = self.sender.send_request(req.body(body)?).await?;
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await?.to_bytes();
        if self.cookie.is_none() {
            self.cookie = parts
                .headers
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| v.split(';').next())
                .find(|pair| pair.starts_with("csrf_token="))
                .and_then(|pair| HeaderValue::from_str(pair).ok());
        }
        let ctype = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((parts.status, ctype, bytes))
    }
}
