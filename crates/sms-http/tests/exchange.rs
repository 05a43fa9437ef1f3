//! `exchange` through `Clients` against a raw TCP peer whose reply never ends. Its own test
//! binary: the unit tests count on being the only callers of `Clients::get` in their process.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use sms_http::{exchange, Clients};

/// A peer that answers the first request with a 200 whose chunked body never ends, a 16 KiB
/// chunk about every millisecond (throttled, so a client that buffers everything still
/// fails before memory runs out). Sends the number of body bytes it wrote once the client
/// hangs up.
fn never_ending_peer() -> (String, mpsc::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (done, written) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "the client hung up before sending its request");
            request.extend_from_slice(&buf[..n]);
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n";
        conn.write_all(head.as_bytes()).unwrap();
        let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
        let mut total = 4;
        while conn.write_all(chunk.as_bytes()).is_ok() {
            total += 0x4000;
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = done.send(total);
    });
    (url, written)
}

#[tokio::test]
async fn a_never_ending_reply_is_cut_off_at_the_cap() {
    const MAX: usize = 64 * 1024;
    let (url, written) = never_ending_peer();
    // A total timeout far beyond what reading the cap takes: hitting it would mean the body
    // was being read to the end.
    let clients = Clients::new("P", Duration::from_secs(2), Duration::from_secs(20)).unwrap();

    let request = clients.get().post(url).body("{}");
    let err = exchange(request, MAX, "P", |_| None).await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.contains("longer than"), "{shown}");
    drop(clients);
    // The client hung up instead of draining the body. (Waited for off the runtime thread:
    // closing the connection is the client's connection task's work.)
    let total = tokio::task::spawn_blocking(move || written.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    assert!(total > MAX, "{total}");
}
