//! The running binary's whole output (stdout and stderr, at debug level) holds neither a code nor
//! a full mobile number, through a send (JSON and GET forms), malformed requests, a wrong code,
//! registration, a wrong password and sign-in with the Ronglian sender — each step asserted to
//! reach its outcome, so no path is skipped unnoticed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const MOBILE: &str = "13712345678";

async fn errno(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["errno"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn no_code_and_no_full_mobile_reach_the_output() {
    let peer = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"statusCode": "000000"})))
        .mount(&peer)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
        .env("APP__SERVER__PORT", "0")
        .env("APP__LOG__FORMAT", "json")
        .env("RUST_LOG", "debug")
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
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Collect stdout line by line; the first line naming the port tells us where to connect.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
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
    let base = format!("http://127.0.0.1:{port}");
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

    child.kill().unwrap();
    child.wait().unwrap();
    let out = reader.join().unwrap() + &err_reader.join().unwrap();
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
}
