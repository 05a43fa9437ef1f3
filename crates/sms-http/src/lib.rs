//! What the SMS provider adapters (`ronglian-sms`, `tencent-sms`) share: the per-thread HTTP
//! clients, one request/reply exchange (no redirect followed, the body read up to a cap, a
//! non-200 status an error), the URL-free transport error, the scrubbing of provider text, and
//! the provider's [`Outcome`] turned into a [`SmsError`] and logged.
//!
//! Each provider passes its name (`"Ronglian"`, `"Tencent"`) as a `&'static str`; it is the
//! only provider-specific word in the errors and logs built here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use domain::{Mobile, SmsCode};
use ports::SmsError;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;

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

/// Sends `request` and reads the reply: the body of an HTTP 200, at most `max` bytes (see
/// [`read_capped`]). Everything else is an error: a transport failure ([`transport_error`]), a
/// redirect (`"{provider} answered HTTP {status}, a redirect, which is not followed"`; its
/// body is not the provider's answer and is not read), any other status (`"{provider}
/// answered HTTP {status}"`, followed by ` ({detail})` when `detail` finds the provider's own
/// account of it in the body), or a body that cannot be read or is too long.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    max: usize,
    provider: &'static str,
    detail: impl FnOnce(&[u8]) -> Option<String>,
) -> anyhow::Result<Vec<u8>> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, provider, "sending the request"))?;
    let status = response.status();
    if status.is_redirection() {
        // Not followed (the clients' redirect policy is `none`) and not read.
        bail!("{provider} answered HTTP {status}, a redirect, which is not followed");
    }
    let body = read_capped(response, max, provider).await;
    if status != StatusCode::OK {
        match body.ok().as_deref().and_then(detail) {
            Some(detail) => bail!("{provider} answered HTTP {status} ({detail})"),
            None => bail!("{provider} answered HTTP {status}"),
        }
    }
    body
}

/// `value` as a header value marked sensitive (kept out of `Debug` output), for
/// `Authorization`.
pub fn sensitive(value: &str) -> anyhow::Result<HeaderValue> {
    let mut value = HeaderValue::from_str(value).context("building the Authorization header")?;
    value.set_sensitive(true);
    Ok(value)
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

/// Masks the full number and the code in text that came from a provider, should it echo them:
/// every provider-supplied text that is logged or kept in an error passes through it.
pub struct Scrub {
    mobile: String,
    masked: String,
    code: String,
}

impl Scrub {
    pub fn new(mobile: &Mobile, code: &SmsCode) -> Self {
        Self {
            mobile: mobile.as_str().to_owned(),
            masked: mobile.masked(),
            code: code.expose().to_owned(),
        }
    }

    /// `text` with the number masked (`138****8000`) and the code as `******`.
    pub fn text(&self, text: &str) -> String {
        text.replace(&self.mobile, &self.masked)
            .replace(&self.code, "******")
    }
}

/// A provider's own account of a send: its status code and message, and the id it gave the
/// request if it gives one. Scrubbed ([`Scrub`]) before it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// How a send through one provider went.
#[derive(Debug)]
pub enum Outcome {
    Sent,
    /// This number is sent to too often.
    RateLimited(Answer),
    /// This number cannot get SMS.
    Rejected(Answer),
    /// The provider cannot send now (failed over).
    Unavailable(anyhow::Error),
}

impl Outcome {
    /// The [`SmsError`] it is, logged: `debug` when sent; `warn` otherwise, with the masked
    /// mobile and the provider's code, message and request id, or the error's chain.
    pub fn into_result(self, provider: &'static str, mobile: &Mobile) -> Result<(), SmsError> {
        match self {
            Outcome::Sent => {
                tracing::debug!(mobile = %mobile, "{provider} accepted the code message");
                Ok(())
            }
            Outcome::RateLimited(answer) => {
                tracing::warn!(
                    mobile = %mobile,
                    status = %answer.code,
                    detail = %answer.message,
                    request_id = answer.request_id.as_deref(),
                    "{provider} rate-limited the code message"
                );
                Err(SmsError::RateLimited {
                    status: answer.code,
                })
            }
            Outcome::Rejected(answer) => {
                tracing::warn!(
                    mobile = %mobile,
                    status = %answer.code,
                    detail = %answer.message,
                    request_id = answer.request_id.as_deref(),
                    "{provider} refused the code message"
                );
                Err(SmsError::Rejected {
                    status: answer.code,
                    message: answer.message,
                })
            }
            Outcome::Unavailable(error) => {
                tracing::warn!(mobile = %mobile, error = format!("{error:#}"), "{provider} unavailable");
                Err(SmsError::Unavailable(error))
            }
        }
    }
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

    #[test]
    fn provider_text_is_scrubbed_of_the_number_and_the_code() {
        let scrub = Scrub::new(
            &Mobile::parse("13800138000").unwrap(),
            &SmsCode::parse("042917").unwrap(),
        );
        assert_eq!(
            scrub.text("+8613800138000 is blacklisted (code 042917)"),
            "+86138****8000 is blacklisted (code ******)"
        );
        assert_eq!(scrub.text("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn outcomes_become_the_port_errors() {
        let mobile = Mobile::parse("13800138000").unwrap();
        let answer = |code: &str| Answer {
            code: code.to_owned(),
            message: "m".to_owned(),
            request_id: None,
        };
        assert!(Outcome::Sent.into_result("P", &mobile).is_ok());
        assert!(matches!(
            Outcome::RateLimited(answer("L")).into_result("P", &mobile),
            Err(SmsError::RateLimited { status }) if status == "L"
        ));
        assert!(matches!(
            Outcome::Rejected(answer("R")).into_result("P", &mobile),
            Err(SmsError::Rejected { status, message }) if status == "R" && message == "m"
        ));
        assert!(matches!(
            Outcome::Unavailable(anyhow!("down")).into_result("P", &mobile),
            Err(SmsError::Unavailable(e)) if e.to_string() == "down"
        ));
    }
}
