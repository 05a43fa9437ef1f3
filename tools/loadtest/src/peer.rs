//! A fake Ronglian: answers every request with success, as fast as it can.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const REPLY: &[u8] = br#"{"statusCode":"000000","templateSMS":{"smsMessageSid":"loadtest","dateCreated":"20260101000000"}}"#;

pub struct Peer {
    pub addr: SocketAddr,
    sent: Arc<AtomicU64>,
}

impl Peer {
    /// Messages accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

pub async fn start() -> anyhow::Result<Peer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| answer(req, counter.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Peer { addr, sent })
}

async fn answer(
    req: Request<Incoming>,
    sent: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the message as a real peer would; its content is not checked here (the
    // ronglian-sms tests do that).
    let _ = req.into_body().collect().await;
    sent.fetch_add(1, Ordering::Relaxed);
    let mut res = Response::new(Full::new(Bytes::from_static(REPLY)));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    Ok(res)
}
