//! The drop-in front end of SPEC §8: with `web.static_dir`, `/` and `/<name>.html` serve the
//! folder's `html/`, `/static/…` the folder itself, and every page comes with the `csrf_token`
//! cookie, so a visitor who opens a page first (no cookies yet) signs in on the first try.

use std::path::Path;

use crate::helpers::{errno_json, spawn_app_with, TestApp, TEST_CODE, TEST_MOBILE};
use serde_json::json;

const INDEX: &str = "<!doctype html><title>index</title><p>front page</p>";
const LOGIN: &str =
    "<!doctype html><title>login</title><script src=\"/static/js/app.js\"></script>";
const APP_JS: &str = "function getCookie(name) { return name; }\n";
const SECRET: &str = "not-for-the-web";

/// `<root>/front` is the front end (`html/`, `js/`, `favicon.ico`, a hidden file); `<root>`
/// itself holds files that must never be served.
fn front_end(root: &Path) -> std::path::PathBuf {
    let front = root.join("front");
    std::fs::create_dir_all(front.join("html")).unwrap();
    std::fs::create_dir_all(front.join("js")).unwrap();
    std::fs::write(front.join("html/index.html"), INDEX).unwrap();
    std::fs::write(front.join("html/login.html"), LOGIN).unwrap();
    std::fs::write(front.join("js/app.js"), APP_JS).unwrap();
    std::fs::write(front.join("favicon.ico"), [0u8, 0, 1, 0]).unwrap();
    std::fs::write(front.join(".env"), SECRET).unwrap();
    std::fs::write(root.join("secret.txt"), SECRET).unwrap();
    std::fs::write(root.join("secret.html"), SECRET).unwrap();
    front
}

async fn spawn_front_end() -> (TestApp, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let front = front_end(root.path());
    let app = spawn_app_with(|s| s.web.static_dir = Some(front)).await;
    (app, root)
}

/// A client that keeps cookies and starts with none, like a first-time visitor.
fn visitor() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

fn jar_cookie(jar: &reqwest::cookie::Jar, address: &str, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let header = jar.cookies(&address.parse().unwrap())?;
    header.to_str().unwrap().split("; ").find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The `csrf_token` value a response sets, if any.
fn csrf_set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix("csrf_token=").map(str::to_owned))
}

/// A raw HTTP/1.1 GET: HTTP clients normalise `..` (even `%2e%2e`) away before sending, so a
/// traversal attempt has to be written by hand. Returns the status code and the whole reply.
async fn raw_get(address: &str, target: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://").to_owned();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    (status, reply)
}

#[tokio::test]
async fn a_page_is_served_with_a_csrf_cookie_the_front_end_can_read() {
    let (app, _root) = spawn_front_end().await;
    let res = app.client.get(app.url("/login.html")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "content type {ct}");
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert_eq!(cache, "no-cache");
    let cookie = csrf_set_cookie(&res).expect("the page sets csrf_token");
    let value = cookie.split(';').next().unwrap();
    assert_eq!(value.len(), 64, "{cookie}");
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()), "{cookie}");
    // The iHome pages read it with /\bcsrf_token=([^;]*)\b/: the value must end in a word
    // character, and JS must be able to read it (no HttpOnly).
    assert!(value.ends_with(|c: char| c.is_ascii_alphanumeric()));
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("httponly"),
        "{cookie}"
    );
    assert_eq!(res.text().await.unwrap(), LOGIN);

    // With the cookie the visitor now has, no new one is set.
    let again = app.client.get(app.url("/login.html")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(csrf_set_cookie(&again), None);
}

#[tokio::test]
async fn the_root_serves_html_index_and_the_folder_is_under_static() {
    let (app, _root) = spawn_front_end().await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(csrf_set_cookie(&index).is_some());
    assert_eq!(index.text().await.unwrap(), INDEX);
    assert_eq!(
        get("/index.html").await.unwrap().text().await.unwrap(),
        INDEX
    );

    let js = get("/static/js/app.js").await.unwrap();
    assert_eq!(js.status(), 200);
    let ct = js.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.contains("javascript"), "content type {ct}");
    assert_eq!(js.text().await.unwrap(), APP_JS);
    // As with Flask's static folder, the pages are reachable there too.
    let page = get("/static/html/login.html").await.unwrap();
    assert_eq!(page.text().await.unwrap(), LOGIN);

    let icon = get("/favicon.ico").await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.bytes().await.unwrap().as_ref(), &[0u8, 0, 1, 0]);

    for missing in [
        "/nope.html",
        "/static/js/nope.js",
        "/static/js/",
        "/static/",
    ] {
        assert_eq!(get(missing).await.unwrap().status(), 404, "{missing}");
    }
    // The API is still the API.
    let session = errno_json(get("/api/v1.0/session").await.unwrap()).await;
    assert_eq!(session["errno"], "4101");
}

#[tokio::test]
async fn nothing_outside_the_folder_or_hidden_in_it_is_served() {
    let (app, _root) = spawn_front_end().await;
    for target in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/js/../../secret.txt",
        "/static/..%2fsecret.txt",
        "/static/js/..%2f..%2fsecret.txt",
        "/static/.env",
        "/static/%2eenv",
        "/../secret.html",
        "/..%2fsecret.html",
        "/%2e%2e%2fsecret.html",
        "/html/../../secret.html",
        "/secret.html",
        "/secret.txt",
    ] {
        let (status, reply) = raw_get(&app.address, target).await;
        assert!(
            (400..500).contains(&status),
            "{target} answered {status}: {reply}"
        );
        assert!(!reply.contains(SECRET), "{target} leaked: {reply}");
    }
    // The same check passes for a file that is there, so the requests above were well-formed.
    let (status, reply) = raw_get(&app.address, "/static/js/app.js").await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains(APP_JS));
}

#[tokio::test]
async fn a_visitor_who_opens_a_page_first_registers_and_signs_in_on_the_first_try() {
    let (app, _root) = spawn_front_end().await;

    // Registration: the page is the first thing the visitor asks for.
    let (client, jar) = visitor();
    let page = client.get(app.url("/login.html")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = jar_cookie(&jar, &app.address, "csrf_token").expect("the page set csrf_token");
    let id = uuid::Uuid::new_v4().to_string();
    let captcha = client
        .get(app.url(&format!("/api/v1.0/image_codes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(captcha.status(), 200);
    let sent = client
        .get(app.url(&format!("/api/v1.0/sms_codes/{TEST_MOBILE}")))
        .query(&[("image_code", "ABCD"), ("image_code_id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(sent).await["errno"], "0");
    // The token the page set is still the one in the jar: nothing replaced it.
    assert_eq!(
        jar_cookie(&jar, &app.address, "csrf_token"),
        Some(csrf.clone())
    );
    let registered = client
        .post(app.url("/api/v1.0/users"))
        .header("X-CSRFToken", &csrf)
        .json(&json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE,
                      "password": "secret1", "password2": "secret1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(registered).await["errno"], "0");

    // Sign-in: a new visitor, no cookies, opens the sign-in page and posts at once.
    let (client, jar) = visitor();
    let page = client.get(app.url("/login.html")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = jar_cookie(&jar, &app.address, "csrf_token").expect("the page set csrf_token");
    let signed_in = client
        .post(app.url("/api/v1.0/sessions"))
        .header("X-CSRFToken", &csrf)
        .json(&json!({"mobile": TEST_MOBILE, "password": "secret1"}))
        .send()
        .await
        .unwrap();
    let body = errno_json(signed_in).await;
    assert_eq!(body["errno"], "0", "{body}");
    assert_eq!(body["data"]["name"], TEST_MOBILE);
    let session = client
        .get(app.url("/api/v1.0/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(session).await["data"]["name"], TEST_MOBILE);
}

#[tokio::test]
async fn without_a_static_dir_the_demo_is_at_the_root_and_no_folder_is_served() {
    let app = crate::helpers::spawn_app().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.text().await.unwrap().contains("获取短信验证码"));
    for path in ["/login.html", "/static/js/app.js", "/favicon.ico"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}
