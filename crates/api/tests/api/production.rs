//! Black-box with the production adapters: Redis for state, PostgreSQL or MariaDB for users, and
//! a Ronglian-protocol peer (wiremock) that checks the signature itself. Captcha → SMS (code read
//! at the peer) → register → session → sign out → sign in. And what production refuses to
//! start with: `deploy/production.env.example` as shipped, and a weak `security.code_secret`.

use crate::helpers::*;
use api::configuration::{load_from, Environment, Settings, SettingsFile};
use api::startup::Application;
use base64::Engine;
use deadpool_redis::redis::AsyncCommands;
use diesel_users::testing::TestDb;
use md5::{Digest, Md5};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SID: &str = "8aaf0708yanzhengsid";
const TOKEN: &str = "f0e1d2c3b4a5token";
const APP_ID: &str = "8a216da8app";

/// What a Ronglian server checks: sig = upper(md5(sid + token + ts)) with the ts that the
/// Authorization header carries, and the exact body shape.
fn check_ronglian(req: &Request) -> Result<Value, String> {
    let auth = req
        .headers
        .get("authorization")
        .ok_or("no Authorization")?
        .to_str()
        .map_err(|e| e.to_string())?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .map_err(|e| e.to_string())?;
    let decoded = String::from_utf8(decoded).map_err(|e| e.to_string())?;
    let (sid, ts) = decoded
        .split_once(':')
        .ok_or("Authorization is not sid:ts")?;
    if sid != SID || ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad Authorization {decoded}"));
    }
    let expected = hex::encode_upper(Md5::digest(format!("{SID}{TOKEN}{ts}")));
    let sig = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .ok_or("no sig")?;
    if sig != expected {
        return Err(format!("sig {sig} != {expected}"));
    }
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| e.to_string())?;
    Ok(body)
}

async fn ronglian_peer() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2013-12-26/Accounts/{SID}/SMS/TemplateSMS")))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/json;charset=utf-8"))
        .respond_with(|req: &Request| match check_ronglian(req) {
            Ok(_) => ResponseTemplate::new(200).set_body_json(
                json!({"statusCode": "000000", "templateSMS": {"smsMessageSid": "x"}}),
            ),
            Err(e) => ResponseTemplate::new(200)
                .set_body_json(json!({"statusCode": "160001", "statusMsg": e})),
        })
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn full_flow(db: TestDb) {
    let peer = ronglian_peer().await;
    let prefix = RedisPrefix::new();
    let app = spawn_app_with(|s| {
        prefix.apply(s);
        s.database.url = SecretString::from(db.url.clone());
        s.sms.provider = "ronglian".into();
        s.sms.ronglian.base_url = peer.uri();
        s.sms.ronglian.account_sid = Some(SID.into());
        s.sms.ronglian.auth_token = Some(SecretString::from(TOKEN));
        s.sms.ronglian.app_id = Some(APP_ID.into());
        s.testing.sms_codes.clear();
    })
    .await;
    let mobile = "13700137000";

    app.visit().await;
    let reply = app.send_code(mobile).await;
    assert_eq!(reply["errno"], "0", "{reply}");

    // Exactly one correctly signed request, datas [code, "5"].
    let requests = peer.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body = check_ronglian(&requests[0]).expect("a correctly signed request");
    assert_eq!(body["to"], mobile);
    assert_eq!(body["appId"], APP_ID);
    assert_eq!(body["templateId"], "1");
    let datas = body["datas"].as_array().unwrap();
    assert_eq!(datas.len(), 2);
    assert_eq!(datas[1], "5");
    let code = datas[0].as_str().unwrap().to_owned();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));

    // Redis holds no plain code.
    let pool = deadpool_redis::Config::from_url(redis_url())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let keys: Vec<String> = conn.keys(format!("{}:*", prefix.as_str())).await.unwrap();
    assert!(!keys.is_empty());
    for key in &keys {
        assert!(!key.contains(&code));
        let dump: Vec<u8> = deadpool_redis::redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let shown = String::from_utf8_lossy(&dump);
        assert!(!shown.contains(&code), "{key} holds the plain code");
    }

    // Register with the code read at the peer, then the session round trip.
    let reg =
        json!({"mobile": mobile, "sms_code": code, "password": "secret1", "password2": "secret1"});
    let reply = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(reply["errno"], "0", "{reply}");
    let s = app.session().await;
    assert_eq!(s["data"]["name"], mobile);
    assert_eq!(app.sign_out().await["errno"], "0");
    let s = app.session().await;
    assert_eq!(s["errno"], "4101");
    let login = json!({"mobile": mobile, "password": "secret1"});
    assert_eq!(
        errno_json(app.post_json("/api/v1.0/sessions", &login).await).await["errno"],
        "0"
    );
    let s = app.session().await;
    assert_eq!(s["data"]["name"], mobile);

    // The users table holds an argon2id hash, not the password.
    let users = diesel_users::DieselUsers::connect(
        &db.url.parse().unwrap(),
        &diesel_users::DbOptions::default(),
    )
    .await
    .unwrap();
    let user =
        ports::UserDirectory::find_by_mobile(&users, &domain::Mobile::parse(mobile).unwrap())
            .await
            .unwrap()
            .unwrap();
    assert!(user
        .password_hash
        .0
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!user.password_hash.0.contains("secret1"));

    // The same code cannot register twice; the number is now taken.
    let again = errno_json(app.post_json("/api/v1.0/users", &reg).await).await;
    assert_eq!(again["errno"], "4002");
}

#[tokio::test]
async fn redis_postgres_and_ronglian() {
    full_flow(migrated(TestDb::postgres().await).await).await;
}

/// Also through the `mariadb://` scheme, which configuration hands to the MySQL driver.
#[tokio::test]
async fn redis_mariadb_and_ronglian() {
    let mut db = migrated(TestDb::mysql().await).await;
    db.url = db.url.replacen("mysql://", "mariadb://", 1);
    assert!(db.url.starts_with("mariadb://"));
    full_flow(db).await;
}

#[tokio::test]
async fn twenty_parallel_registrations_with_one_code_create_one_user() {
    let db = migrated(TestDb::postgres().await).await;
    let prefix = RedisPrefix::new();
    let app = spawn_app_with(|s| {
        prefix.apply(s);
        s.database.url = SecretString::from(db.url.clone());
    })
    .await;
    app.visit().await;
    assert_eq!(app.send_code(TEST_MOBILE).await["errno"], "0");
    let reg = json!({"mobile": TEST_MOBILE, "sms_code": TEST_CODE, "password": "secret1", "password2": "secret1"});
    let replies = futures::future::join_all(
        (0..20).map(|_| async { errno_json(app.post_json("/api/v1.0/users", &reg).await).await }),
    )
    .await;
    let ok = replies.iter().filter(|r| r["errno"] == "0").count();
    assert_eq!(ok, 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|r| r["errno"] == "0" || r["errno"] == "4002"),
        "{replies:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// `security.code_secret` in production (SPEC §4a): ≥ 128 random bits, not a published value.

/// `openssl rand -hex 32`.
const GOOD_SECRET: &str = "8d2f61a9c04be7353e9f1d6ab2c87e0f49a3d5c61b7e28f0a4c9d3e65f1b07a2";

/// Secrets production must refuse: the shipped placeholders, and made-up ones.
const WEAK_SECRETS: [&str; 6] = [
    "CHANGE-ME-TO-64-HEX-CHARACTERS",
    "0123456789abcdef0123456789abcdef",
    "9f3c1a7e52b8d04e",
    "abcabcabcabcabcabcabcabcabcabcab",
    "yanzheng-production-code-key-2024",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// The variables of `deploy/production.env.example`, as an operator's environment.
fn production_env_example() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/production.env.example"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn with_code_secret(mut env: Vec<(String, String)>, secret: &str) -> Vec<(String, String)> {
    let slot = env
        .iter_mut()
        .find(|(k, _)| k == "APP__SECURITY__CODE_SECRET")
        .expect("the example sets the code secret");
    slot.1 = secret.to_owned();
    env
}

#[test]
fn the_shipped_example_is_refused_until_its_code_secret_is_replaced() {
    let no_files = tempfile::tempdir().unwrap();
    let example = production_env_example();
    let err = load_from(no_files.path(), example.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("production: security.code_secret is an example value")
            && err.contains("openssl rand -hex 32"),
        "{err}"
    );
    for weak in WEAK_SECRETS {
        let err = load_from(no_files.path(), with_code_secret(example.clone(), weak))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("production: security.code_secret") && err.contains("openssl rand"),
            "{weak}: {err}"
        );
    }
    // With a real secret the example is a valid production configuration.
    let s = load_from(no_files.path(), with_code_secret(example, GOOD_SECRET)).unwrap();
    assert_eq!(s.environment, Environment::Production);
}

/// Production parts (Redis, Ronglian, SQLite for one node) with this code secret.
fn production_file(dir: &tempfile::TempDir, secret: &str) -> SettingsFile {
    let mut f = SettingsFile::default();
    f.server.port = 0;
    f.database.url = SecretString::from(format!(
        "sqlite://{}",
        dir.path().join("users.db").display()
    ));
    f.store.url = SecretString::from(redis_url());
    // Serves one read: nothing is written under this prefix.
    f.store.key_prefix = format!("yz-test-{}", uuid::Uuid::new_v4().simple());
    f.sms.provider = "ronglian".into();
    // Never reached: nothing is sent.
    f.sms.ronglian.base_url = "http://127.0.0.1:9".into();
    f.sms.ronglian.account_sid = Some(SID.into());
    f.sms.ronglian.auth_token = Some(SecretString::from(TOKEN));
    f.sms.ronglian.app_id = Some(APP_ID.into());
    f.security.code_secret = Some(SecretString::from(secret));
    f
}

#[tokio::test]
async fn production_starts_with_a_good_code_secret_and_refuses_a_weak_one() {
    let dir = tempfile::tempdir().unwrap();
    for weak in WEAK_SECRETS {
        let err =
            Settings::from_file(production_file(&dir, weak), Environment::Production).unwrap_err();
        assert_eq!(err.0.len(), 1, "only the secret is wrong: {err}");
        assert!(
            err.0[0].starts_with("production: security.code_secret"),
            "{err}"
        );
    }
    let settings = Settings::from_file(production_file(&dir, GOOD_SECRET), Environment::Production)
        .expect("a good secret starts");
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let reply = errno_json(
        reqwest::get(format!("{address}/api/v1.0/session"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply["errno"], "4101",
        "serving, and nobody is signed in: {reply}"
    );
}
