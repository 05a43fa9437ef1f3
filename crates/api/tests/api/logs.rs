//! The running binary's whole output (stdout and stderr, at debug level, in each log format)
//! holds neither a code nor a full mobile number, through a send (JSON and GET forms),
//! malformed requests, a wrong code, registration, a wrong password and sign-in with the
//! Ronglian sender — each step asserted to reach its outcome, so no path is skipped unnoticed.
//! In JSON every line is one object, and every line logged during a request names its request
//! id and route pattern. And SIGTERM to the binary: readiness turns, the send in flight
//! completes, the process exits 0, and probes were never logged at info.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::MockServer;

use crate::helpers::{
    errno_json, ronglian_answering, ronglian_sent, tencent_answering, tencent_sent,
    until_the_peer_has_a_request,
};

const MOBILE: &str = "13712345678";

async fn errno(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["errno"].as_str().unwrap().to_owned()
}

/// The real `api` binary on a free port with the Ronglian sender at `peer`, its output
/// collected.
struct Binary {
    child: Child,
    base: String,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
    _dir: tempfile::TempDir,
}

impl Binary {
    fn start(peer: &MockServer, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
            .env_remove("RUST_LOG")
            .env("APP__SERVER__PORT", "0")
            .env(
                "APP__DATABASE__URL",
                format!("sqlite://{}", dir.path().join("u.db").display()),
            )
            .env("APP__TESTING__CAPTCHA_TEXT", "ABCD")
            .env("APP__SMS__PROVIDER", "ronglian")
            .env("APP__SMS__RONGLIAN__BASE_URL", peer.uri())
            .env("APP__SMS__RONGLIAN__ACCOUNT_SID", "sid")
            .env("APP__SMS__RONGLIAN__AUTH_TOKEN", "token-never-logged")
            .env("APP__SMS__RONGLIAN__APP_ID", "app")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Collect stdout line by line; the line naming the port tells us where to connect.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let out = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let port = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the service logs its address");
            if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break digits.parse::<u16>().unwrap();
            }
        };
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            out,
            err,
            _dir: dir,
        }
    }

    /// Send SIGTERM.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait for the process to end (killing it after `limit`): its exit status and its whole
    /// output (stdout, then stderr).
    fn finish(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                self.child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.out.join().unwrap() + &self.err.join().unwrap();
        (status, out)
    }
}

#[tokio::test]
async fn no_code_and_no_full_mobile_reach_the_text_output() {
    audit("text").await;
}

#[tokio::test]
async fn no_code_and_no_full_mobile_reach_the_json_output_and_every_line_is_an_object() {
    let out = audit("json").await;
    let mut request_lines = 0;
    for line in out.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        if let Some(span) = entry.get("span").filter(|s| s["name"] == "request") {
            request_lines += 1;
            assert!(span["request_id"].is_string(), "no request id: {line}");
            assert!(span["route"].is_string(), "no route pattern: {line}");
        }
        if entry["message"] == "request finished" {
            assert!(entry["span"]["status"].is_number(), "{line}");
        }
    }
    assert!(
        request_lines >= 10,
        "only {request_lines} request lines:\n{out}"
    );
}

/// Run every flow against the binary logging in `format` at debug; assert nothing secret
/// reached its output, and return the output.
async fn audit(format: &str) -> String {
    let peer = ronglian_answering(ronglian_sent()).await;
    let binary = Binary::start(
        &peer,
        &[
            ("APP__LOG__FORMAT", format),
            ("APP__LOG__LEVEL", "debug"),
            // The app flows below send three codes to one number in a row.
            ("APP__LIMITS__MOBILE_COOLDOWN_SECS", "0"),
        ],
    );
    let base = binary.base.clone();
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();

    client
        .get(format!("{base}/api/v1.0/image_codes/log-1"))
        .send()
        .await
        .unwrap();
    let reply: Value = client
        .post(format!("{base}/api/v1.0/sms_codes"))
        .json(&json!({"mobile": MOBILE, "image_code": "ABCD", "image_code_id": "log-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["errno"], "0", "{reply}");
    let sent: Value =
        serde_json::from_slice(&peer.received_requests().await.unwrap()[0].body).unwrap();
    let code = sent["datas"][0].as_str().unwrap().to_owned();

    // The GET form puts the number in the path; a malformed body puts it in a parse error.
    let get_form = client
        .get(format!(
            "{base}/api/v1.0/sms_codes/{MOBILE}?image_code=ABCD&image_code_id=nope"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(errno(get_form).await, "4002", "GET form, unknown captcha");
    for malformed in [
        format!("{{\"mobile\": {MOBILE}, \"image_code\": 1}}"),
        format!("{{\"mobile\": \"{MOBILE}\", oops"),
    ] {
        let res = client
            .post(format!("{base}/api/v1.0/sms_codes"))
            .header("content-type", "application/json")
            .body(malformed)
            .send()
            .await
            .unwrap();
        assert_eq!(errno(res).await, "4103", "a malformed body is PARAMERR");
    }

    client
        .get(format!("{base}/api/v1.0/session"))
        .send()
        .await
        .unwrap();
    let csrf = {
        use reqwest::cookie::CookieStore;
        let header = jar.cookies(&base.parse().unwrap()).unwrap();
        let header = header.to_str().unwrap().to_owned();
        header
            .split("; ")
            .find_map(|kv| kv.strip_prefix("csrf_token=").map(str::to_owned))
            .unwrap()
    };
    let wrong_code = if code == "000000" { "000001" } else { "000000" };
    // Each step must reach the outcome it stands for, or the audit covers less than it says.
    for (path, body, expected) in [
        (
            "/api/v1.0/users",
            json!({"mobile": MOBILE, "sms_code": wrong_code, "password": "secret1", "password2": "secret1"}),
            "4004",
        ),
        (
            "/api/v1.0/users",
            json!({"mobile": MOBILE, "sms_code": code, "password": "secret1", "password2": "secret1"}),
            "0",
        ),
        (
            "/api/v1.0/sessions",
            json!({"mobile": MOBILE, "password": "wrong-password"}),
            "4004",
        ),
        (
            "/api/v1.0/sessions",
            json!({"mobile": MOBILE, "password": "secret1"}),
            "0",
        ),
    ] {
        let res = client
            .post(format!("{base}{path}"))
            .header("X-CSRFToken", &csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(errno(res).await, expected, "{path} {body}");
    }
    let secrets = app_flows(&base, &peer).await;

    binary.terminate();
    let (status, out) = binary.finish(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{out}");
    assert!(
        out.contains("137****5678"),
        "the masked number is logged:\n{out}"
    );
    assert!(
        !out.contains(MOBILE),
        "a full mobile reached the output:\n{out}"
    );
    assert!(!out.contains(&code), "the code reached the output:\n{out}");
    assert!(
        !out.contains("token-never-logged"),
        "the auth token reached the output"
    );
    assert!(!out.contains("secret1"), "a password reached the output");
    for secret in secrets {
        assert!(
            !out.contains(&secret),
            "a code, token or password of the app flows reached the output"
        );
    }
    out
}

/// An app's request to `base` (no cookies; `bearer` if given), as an errno reply.
async fn app_call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    bearer: Option<&str>,
) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    errno_json(req.send().await.unwrap()).await
}

/// An app's `POST path` that must succeed with a token; the token.
async fn app_token(base: &str, path: &str, body: Value) -> String {
    let reply = app_call(base, reqwest::Method::POST, path, Some(body), None).await;
    assert_eq!(reply["errno"], "0", "{path}: {reply}");
    reply["data"]["token"].as_str().unwrap().to_owned()
}

/// An app asks for a code for `purpose`; the code, as the provider `peer` got it.
async fn app_code(base: &str, peer: &MockServer, purpose: &str) -> String {
    let id = format!("log-{purpose}");
    reqwest::get(format!("{base}/api/v1.0/image_codes/{id}"))
        .await
        .unwrap();
    let body = json!({"mobile": MOBILE, "image_code": "ABCD", "image_code_id": id,
        "purpose": purpose, "client": "app"});
    let reply = app_call(
        base,
        reqwest::Method::POST,
        "/api/v1.0/sms_codes",
        Some(body),
        None,
    )
    .await;
    assert_eq!(reply["errno"], "0", "{purpose}: {reply}");
    let requests = peer.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    sent["datas"][0].as_str().unwrap().to_owned()
}

/// An app (no cookies) signs in with a code, changes its password, resets it with a code and
/// signs out, through `base` whose SMS go to `peer`; the codes, tokens and passwords it used.
async fn app_flows(base: &str, peer: &MockServer) -> Vec<String> {
    use reqwest::Method;
    let login_code = app_code(base, peer, "login").await;
    let body = json!({"mobile": MOBILE, "sms_code": login_code, "client": "app"});
    let token = app_token(base, "/api/v1.0/sessions", body).await;
    let body =
        json!({"old_password": "secret1", "password": "changed-pw-1", "password2": "changed-pw-1"});
    for (method, path, body) in [
        (Method::GET, "/api/v1.0/user/sessions", None),
        (Method::PUT, "/api/v1.0/user/password", Some(body)),
    ] {
        let reply = app_call(base, method, path, body, Some(&token)).await;
        assert_eq!(reply["errno"], "0", "{path}: {reply}");
    }
    let reset_code = app_code(base, peer, "reset").await;
    let body = json!({"mobile": MOBILE, "sms_code": reset_code, "password": "reset-pw-22",
        "password2": "reset-pw-22", "client": "app"});
    let fresh = app_token(base, "/api/v1.0/password_resets", body).await;
    let reply = app_call(
        base,
        Method::DELETE,
        "/api/v1.0/session",
        None,
        Some(&fresh),
    )
    .await;
    assert_eq!(reply["errno"], "0", "{reply}");
    vec![
        login_code,
        reset_code,
        token,
        fresh,
        "changed-pw-1".into(),
        "reset-pw-22".into(),
    ]
}

#[tokio::test]
async fn on_sigterm_readiness_turns_the_send_in_flight_completes_and_the_exit_is_clean() {
    let peer = ronglian_answering(ronglian_sent().set_delay(Duration::from_millis(1500))).await;
    let binary = Binary::start(
        &peer,
        &[
            ("APP__LOG__FORMAT", "json"),
            ("APP__SERVER__SHUTDOWN_GRACE_SECS", "5"),
        ],
    );
    let base = binary.base.clone();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    for probe in ["/healthz", "/readyz", "/metrics"] {
        let res = client.get(format!("{base}{probe}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{probe}");
    }
    client
        .get(format!("{base}/api/v1.0/image_codes/term-1"))
        .send()
        .await
        .unwrap();
    let in_flight = {
        let (client, url) = (client.clone(), format!("{base}/api/v1.0/sms_codes"));
        let body = json!({"mobile": MOBILE, "image_code": "ABCD", "image_code_id": "term-1"});
        tokio::spawn(async move { client.post(url).json(&body).send().await })
    };
    until_the_peer_has_a_request(&peer).await;
    binary.terminate();
    // Readiness turns as soon as the signal is handled (the listener stays open for a moment
    // after it, so this can be seen).
    let signalled = Instant::now();
    loop {
        let res = client.get(format!("{base}/readyz")).send().await.unwrap();
        if res.status() == 503 {
            break;
        }
        assert_eq!(res.status(), 200);
        assert!(
            signalled.elapsed() < Duration::from_millis(900),
            "still ready {:?} after SIGTERM",
            signalled.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(errno(reply).await, "0", "the send in flight completed");

    let (status, out) = binary.finish(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}:\n{out}"
    );
    for line in out.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let route = entry["span"]["route"].as_str().unwrap_or_default();
        assert!(
            !(["/healthz", "/readyz", "/metrics"].contains(&route) && entry["level"] == "INFO"),
            "a probe logged at info: {line}"
        );
    }
    assert!(out.contains("shutdown begun"), "{out}");
    assert!(out.contains("connections closed"), "{out}");
}

/// The JSON lines of `out` whose message is `message`.
fn entries(out: &str, message: &str) -> Vec<Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["message"] == message)
        .collect()
}

#[tokio::test]
async fn failovers_and_skips_are_logged_by_provider_without_the_code_the_number_or_a_key() {
    let ronglian = ronglian_answering(wiremock::ResponseTemplate::new(503)).await;
    let tencent = tencent_answering(tencent_sent()).await;
    let tencent_uri = tencent.uri();
    let binary = Binary::start(
        &ronglian,
        &[
            ("APP__LOG__FORMAT", "json"),
            ("APP__LOG__LEVEL", "debug"),
            ("APP__SMS__PROVIDERS", "ronglian,tencent"),
            ("APP__SMS__BREAKER_FAILURES", "1"),
            ("APP__SMS__TENCENT__BASE_URL", &tencent_uri),
            ("APP__SMS__TENCENT__SECRET_ID", "AKIDlogtest"),
            ("APP__SMS__TENCENT__SECRET_KEY", "tencent-key-never-logged"),
            ("APP__SMS__TENCENT__SDK_APP_ID", "1400006666"),
            ("APP__SMS__TENCENT__SIGN_NAME", "验证"),
            ("APP__SMS__TENCENT__TEMPLATE_ID", "1234567"),
        ],
    );
    let base = binary.base.clone();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let other = "13712345679";
    // The first send fails over (and opens Ronglian's breaker); the second skips Ronglian.
    for (i, mobile) in [MOBILE, other].into_iter().enumerate() {
        let id = format!("failover-{i}");
        client
            .get(format!("{base}/api/v1.0/image_codes/{id}"))
            .send()
            .await
            .unwrap();
        let body = json!({"mobile": mobile, "image_code": "ABCD", "image_code_id": id});
        let res = client
            .post(format!("{base}/api/v1.0/sms_codes"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(errno(res).await, "0", "send {i}");
    }
    let codes: Vec<String> = tencent
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["TemplateParamSet"][0].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(codes.len(), 2);
    assert_eq!(ronglian.received_requests().await.unwrap().len(), 1);

    binary.terminate();
    let (status, out) = binary.finish(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{out}");

    let failovers = entries(
        &out,
        "SMS provider unavailable: failing over with the same code",
    );
    assert_eq!(failovers.len(), 1, "{out}");
    let f = &failovers[0];
    assert_eq!(
        (&f["level"], &f["from"], &f["to"]),
        (&json!("WARN"), &json!("ronglian"), &json!("tencent")),
        "{f}"
    );
    assert!(f["error"].as_str().is_some_and(|e| !e.is_empty()), "{f}");
    let skips = entries(&out, "SMS provider skipped: its circuit breaker is open");
    assert_eq!(skips.len(), 1, "{out}");
    assert_eq!(
        (&skips[0]["level"], &skips[0]["provider"]),
        (&json!("WARN"), &json!("ronglian"))
    );
    let sent = entries(&out, "code message sent");
    assert_eq!(sent.len(), 2, "{out}");
    assert!(
        sent.iter()
            .all(|e| e["level"] == "INFO" && e["provider"] == "tencent"),
        "{sent:?}"
    );

    for secret in [
        MOBILE,
        other,
        "tencent-key-never-logged",
        "token-never-logged",
    ] {
        assert!(!out.contains(secret), "{secret} reached the output:\n{out}");
    }
    for code in &codes {
        assert!(
            !out.contains(code.as_str()),
            "a code reached the output:\n{out}"
        );
    }
}
