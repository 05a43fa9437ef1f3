//! HTTP plumbing shared by the SMS provider adapters (`ronglian-sms`, `tencent-sms`): the
//! per-thread HTTP clients, the capped read of a reply body and the URL-free transport error.
//!
//! Each provider passes its name (`"Ronglian"`, `"Tencent"`) as a `&'static str`; it is the
//! only provider-specific word in the errors built here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};

/// At most this many HTTP clients (one per core; see [`Clients`]).
const MAX_CLIENTS: usize = 8;

/// One client per core, each thread keeping to one (threads take them in turn): hyper drives a
/// pooled connection from a task spawned where the connection was made, so under actix-web (a
/// runtime per worker thread) one shared client hands a worker connections driven by another
/// worker's thread, and every message wakes that thread. Each worker keeps to its own
/// connections this way.
///
/// Every client uses rustls, bounds connecting and the whole request, and follows no
/// redirect: a 307/308 would re-send the request, code and signature included, to wherever
/// `Location` points. A redirect reaches the caller as the 3xx reply itself.
#[derive(Debug)]
pub struct Clients {
    clients: Box<[reqwest::Client]>,
}

impl Clients {
    /// `min(cores, 8)` clients with `connect_timeout` (TCP + TLS) and `timeout` (from
    /// connecting to the last byte of the reply). `provider` names the provider in the error
    /// should a client fail to build (`"building the HTTP client for {provider}"`).
    pub fn new(
        provider: &'static str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let clients = (0..cores.min(MAX_CLIENTS))
            .map(|_| {
                reqwest::Client::builder()
                    .connect_timeout(connect_timeout)
                    .timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .with_context(|| format!("building the HTTP client for {provider}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { clients })
    }

    /// This thread's client. A thread takes its slot on its first call (to any provider's
    /// `Clients`) and keeps it.
    pub fn get(&self) -> &reqwest::Client {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        &self.clients[SLOT.with(|s| *s) % self.clients.len()]
    }
}

/// The reply body, read chunk by chunk and refused once it passes `max` bytes: at most the cap
/// plus one chunk is ever held, whatever `Content-Length` says (it is not consulted), so a
/// misbehaving or hostile peer cannot make the service buffer an unbounded body. The client's
/// total timeout bounds a body that trickles in.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
    provider: &'static str,
) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(e, provider, "reading the reply"))?
    {
        if body.len() + chunk.len() > max {
            bail!("{provider}'s reply is longer than {max} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error without its URL (a URL may carry a signature, as Ronglian's does; it is kept
/// out of errors on principle), in the context `"{provider} timed out|could not connect|failed
/// {doing}"`.
pub fn transport_error(
    e: reqwest::Error,
    provider: &'static str,
    doing: &'static str,
) -> anyhow::Error {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    anyhow!(e.without_url()).context(format!("{provider} {kind} {doing}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(len: usize) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(vec![b'x'; len]))
    }

    #[tokio::test]
    async fn a_body_up_to_the_cap_is_read_and_one_byte_more_is_refused() {
        assert_eq!(read_capped(response(0), 16, "P").await.unwrap(), b"");
        assert_eq!(
            read_capped(response(16), 16, "P").await.unwrap(),
            [b'x'; 16]
        );
        let refused = read_capped(response(17), 16, "Ronglian").await.unwrap_err();
        assert_eq!(
            format!("{refused:#}"),
            "Ronglian's reply is longer than 16 bytes"
        );
    }

    #[test]
    fn a_thread_keeps_to_one_client_and_threads_take_them_in_turn() {
        let clients = Clients::new("P", Duration::from_secs(1), Duration::from_secs(2)).unwrap();
        let n = clients.clients.len();
        assert!((1..=MAX_CLIENTS).contains(&n), "{n}");
        let index = |c: &Clients| {
            let got: *const reqwest::Client = c.get();
            c.clients.iter().position(|x| std::ptr::eq(x, got)).unwrap()
        };
        let here = index(&clients);
        assert_eq!(index(&clients), here);
        // Only this test calls `get`, so threads started one after another take consecutive
        // slots: n of them use every client once.
        let mut used: Vec<usize> = (0..n)
            .map(|_| {
                std::thread::scope(|s| s.spawn(|| (index(&clients), index(&clients))).join())
                    .unwrap()
            })
            .map(|(first, again)| {
                assert_eq!(first, again);
                first
            })
            .collect();
        used.sort_unstable();
        assert_eq!(used, (0..n).collect::<Vec<_>>());
    }
}
