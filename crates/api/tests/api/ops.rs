//! What an operator runs the service with: the probes, the metrics (counted as the flows
//! happened, with no personal data in any label, behind the token or on their own port), and a
//! graceful shutdown that lets work in flight finish. (Redis stopped under `/readyz`:
//! `redis_outage`; SIGTERM to the real binary: `logs`.)

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

const OTHER_MOBILE: &str = "13912345678";

#[tokio::test]
async fn healthz_answers_ok_and_readyz_checks_the_store_and_the_database() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "ready", "checks": {"store": "ok", "database": "ok"}})
    );
}

#[tokio::test]
async fn readyz_names_an_unreachable_database_within_its_bound_and_without_its_url() {
    // A PostgreSQL URL nobody listens on: the pool connects lazily, so the service starts, and
    // the probe must answer 503 in time rather than wait for the connect timeout.
    let port = redis_captcha::testing::free_port();
    let app = spawn_app_with(|s| {
        s.database.url = secrecy::SecretString::from(format!(
            "postgres://yz:pw-never-shown@127.0.0.1:{port}/nope"
        ));
        s.database.connect_timeout_ms = 5000;
    })
    .await;
    let started = Instant::now();
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["status"], "unavailable");
    assert_eq!(reply["checks"]["store"], "ok");
    assert!(
        matches!(
            reply["checks"]["database"].as_str(),
            Some("error" | "timeout")
        ),
        "{reply}"
    );
    assert!(
        !body.contains("pw-never-shown") && !body.contains("postgres"),
        "{body}"
    );
    assert!(took < Duration::from_secs(3), "the probe hung for {took:?}");
}

#[tokio::test]
async fn a_scrape_counts_what_the_flows_did_and_carries_no_personal_data() {
    let app = spawn_app().await;
    app.visit().await;
    for id in ["scrape-1", "scrape-2", "scrape-3"] {
        app.captcha(id).await;
    }
    let send = |id: &str, mobile: &str, text: &str| json!({"mobile": mobile, "image_code": text, "image_code_id": id});
    let errno = |reply: Value| reply["errno"].as_str().unwrap().to_owned();
    let sms = "/api/v1.0/sms_codes";
    // A wrong captcha, an unknown one, a test number, a real (console) send.
    let r = errno_json(
        app.post_json(sms, &send("scrape-1", TEST_MOBILE, "ZZZZ"))
            .await,
    )
    .await;
    assert_eq!(errno(r), "4004");
    let r = errno_json(
        app.post_json(sms, &send("nope-1", TEST_MOBILE, CAPTCHA))
            .await,
    )
    .await;
    assert_eq!(errno(r), "4002");
    let r = errno_json(
        app.post_json(sms, &send("scrape-2", TEST_MOBILE, CAPTCHA))
            .await,
    )
    .await;
    assert_eq!(errno(r), "0");
    let r = errno_json(
        app.post_json(sms, &send("scrape-3", OTHER_MOBILE, CAPTCHA))
            .await,
    )
    .await;
    assert_eq!(errno(r), "0");
    // A wrong code, the right one; a wrong password, the right one.
    let register = |code: &str| json!({"mobile": TEST_MOBILE, "sms_code": code, "password": "secret1", "password2": "secret1"});
    let r = errno_json(app.post_json("/api/v1.0/users", &register("111111")).await).await;
    assert_eq!(errno(r), "4004");
    let r = errno_json(app.post_json("/api/v1.0/users", &register(TEST_CODE)).await).await;
    assert_eq!(errno(r), "0");
    let sign_in = |password: &str| json!({"mobile": TEST_MOBILE, "password": password});
    let r = errno_json(
        app.post_json("/api/v1.0/sessions", &sign_in("wrong-pw"))
            .await,
    )
    .await;
    assert_eq!(errno(r), "4004");
    let r = errno_json(
        app.post_json("/api/v1.0/sessions", &sign_in("secret1"))
            .await,
    )
    .await;
    assert_eq!(errno(r), "0");

    let text = scrape(&app).await;
    has(&text, "yanzheng_captchas_issued_total 3");
    has(&text, r#"yanzheng_captcha_checks_total{outcome="ok"} 2"#);
    has(&text, r#"yanzheng_captcha_checks_total{outcome="wrong"} 1"#);
    has(
        &text,
        r#"yanzheng_captcha_checks_total{outcome="missing"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_codes_issued_total{delivery="test_number"} 1"#,
    );
    has(&text, r#"yanzheng_codes_issued_total{delivery="sms"} 1"#);
    has(
        &text,
        r#"yanzheng_sms_sends_total{provider="console",outcome="sent"} 1"#,
    );
    has(&text, r#"yanzheng_codes_verified_total{outcome="wrong"} 1"#);
    has(&text, r#"yanzheng_codes_verified_total{outcome="ok"} 1"#);
    has(&text, r#"yanzheng_registrations_total{outcome="ok"} 1"#);
    has(
        &text,
        r#"yanzheng_sign_ins_total{outcome="bad_credentials"} 1"#,
    );
    has(&text, r#"yanzheng_sign_ins_total{outcome="ok"} 1"#);
    has(
        &text,
        r#"yanzheng_http_requests_total{route="/api/v1.0/sms_codes",method="POST",status="200",errno="0"} 2"#,
    );
    has(
        &text,
        r#"yanzheng_http_requests_total{route="/api/v1.0/image_codes/{image_code_id}",method="GET",status="200",errno="none"} 3"#,
    );
    has(
        &text,
        r#"yanzheng_http_request_duration_seconds_count{route="/api/v1.0/users"} 2"#,
    );
    assert!(samples(&text)
        .iter()
        .any(|l| l.starts_with("process_resident_memory_bytes ")));
    for secret in [
        TEST_MOBILE,
        OTHER_MOBILE,
        TEST_CODE,
        "127.0.0.1",
        "scrape-1",
        "nope-1",
    ] {
        assert!(
            !text.contains(secret),
            "`{secret}` is in the scrape:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_scraper_that_asks_for_openmetrics_gets_it() {
    let app = spawn_app().await;
    app.captcha("om-1").await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE yanzheng_captchas_issued counter\n"),
        "{text}"
    );
    has(&text, "yanzheng_captchas_issued_total 1");
}

#[tokio::test]
async fn an_unmatched_path_is_one_label_whatever_the_path() {
    let app = spawn_app().await;
    for path in [
        "/api/v1.0/13800138000",
        "/wp-login.php",
        "/api/nope?mobile=13800138000",
    ] {
        app.client.get(app.url(path)).send().await.unwrap();
    }
    let text = scrape(&app).await;
    assert!(
        !text.contains("13800138000") && !text.contains("wp-login"),
        "{text}"
    );
    has(
        &text,
        r#"yanzheng_http_requests_total{route="(unmatched)",method="GET",status="200",errno="4103"} 2"#,
    );
}

#[tokio::test]
async fn with_a_token_metrics_need_it_and_a_wrong_one_gets_401_and_nothing_else() {
    let token = "metrics-token-0123456789abcdef";
    let app = spawn_app_with(|s| s.metrics.token = Some(secrecy::SecretString::from(token))).await;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Basic bWV0cmljczp4"),
        Some(token),
    ] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "a 401 says nothing else"
        );
    }
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("yanzheng_http_requests"));
}

#[tokio::test]
async fn with_a_metrics_port_metrics_are_served_there_and_not_on_the_main_port() {
    let app = spawn_app_with(|s| s.server.metrics_port = Some(0)).await;
    let port = app.metrics_port.expect("the metrics port is bound");
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404, "not on the main port");
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    has(
        &text,
        r#"yanzheng_http_requests_total{route="(unmatched)",method="GET",status="404",errno="none"} 1"#,
    );
}

/// A send (with a freshly solved captcha `id`) running on its own task.
async fn send_in_flight(
    app: &TestApp,
    id: &str,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    app.captcha(id).await;
    let body = json!({"mobile": OTHER_MOBILE, "image_code": CAPTCHA, "image_code_id": id});
    let (client, url) = (app.client.clone(), app.url("/api/v1.0/sms_codes"));
    tokio::spawn(async move { client.post(url).json(&body).send().await })
}

#[tokio::test]
async fn on_shutdown_readyz_turns_503_at_once_and_a_send_in_flight_completes() {
    let peer = ronglian_answering(ronglian_sent().set_delay(Duration::from_millis(1500))).await;
    let app = spawn_app_with(|s| {
        use_ronglian(s, peer.uri());
        s.server.shutdown_grace_secs = 5;
    })
    .await;
    let in_flight = send_in_flight(&app, "in-flight").await;
    // The send is at the provider (the peer has it) when the shutdown begins.
    until_the_peer_has_a_request(&peer).await;
    let began = Instant::now();
    app.shutdown.begin();

    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["status"],
        "shutting_down"
    );
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "alive while draining");

    let reply = errno_json(in_flight.await.unwrap().unwrap()).await;
    assert_eq!(reply["errno"], "0", "the send in flight completed: {reply}");
    let healthz = app.url("/healthz");
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.running)
        .await
        .expect("the server stops within its grace")
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");
    assert!(
        began.elapsed() < Duration::from_secs(7),
        "{:?}",
        began.elapsed()
    );
    let after = app.client.get(healthz).send().await;
    assert!(after.is_err(), "no longer listening after the shutdown");
}

#[tokio::test]
async fn a_request_longer_than_the_grace_does_not_hold_the_shutdown() {
    // The provider would answer after 8 s; the grace is 1 s.
    let peer = ronglian_answering(ronglian_sent().set_delay(Duration::from_secs(8))).await;
    let app = spawn_app_with(|s| {
        use_ronglian(s, peer.uri());
        s.sms.ronglian.timeout_ms = 10_000;
        s.server.shutdown_grace_secs = 1;
    })
    .await;
    let in_flight = send_in_flight(&app, "too-long").await;
    until_the_peer_has_a_request(&peer).await;
    let began = Instant::now();
    app.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(6), app.running)
        .await
        .expect("the shutdown ends after the grace, not when the request would")
        .unwrap()
        .unwrap();
    let took = began.elapsed();
    // The 1 s listening window (at most the grace), then the 1 s grace.
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let cut = in_flight.await.unwrap();
    assert!(
        cut.is_err(),
        "the request was cut at the end of the grace: {cut:?}"
    );
}

#[tokio::test]
async fn a_failing_provider_is_counted_by_outcome_and_timed() {
    let peer = ronglian_answering(wiremock::ResponseTemplate::new(500)).await;
    let app = spawn_app_with(|s| use_ronglian(s, peer.uri())).await;
    assert_eq!(app.send_code(OTHER_MOBILE).await["errno"], "4301");
    let text = scrape(&app).await;
    has(&text, r#"yanzheng_codes_issued_total{delivery="sms"} 1"#);
    has(
        &text,
        r#"yanzheng_sms_sends_total{provider="ronglian",outcome="unavailable"} 1"#,
    );
    has(
        &text,
        r#"yanzheng_sms_send_duration_seconds_count{provider="ronglian"} 1"#,
    );
    assert!(!text.contains(r#"outcome="sent""#), "{text}");
}

#[tokio::test]
async fn after_shutdown_the_database_connections_are_closed() {
    let db = migrated(diesel_users::testing::TestDb::postgres().await).await;
    let app = spawn_app_with(|s| {
        s.database.url = secrecy::SecretString::from(db.url.clone());
    })
    .await;
    // Use the pool from several requests so that connections exist.
    for _ in 0..4 {
        app.send_code(OTHER_MOBILE).await;
    }
    assert!(db.connections().await > 0, "the service holds connections");
    app.shutdown.begin();
    tokio::time::timeout(Duration::from_secs(10), app.running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let open = db.connections().await;
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} connections still open after the shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
