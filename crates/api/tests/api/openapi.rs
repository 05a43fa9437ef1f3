//! The OpenAPI document against the routes: the route table (what `startup` registers) and the
//! document list the same (method, path) pairs; every documented operation reaches a route of
//! the running app; the protection the document states is the one the app applies; the
//! document and the Swagger UI are served, and unknown paths under `/api/` keep the errno
//! format.

use std::collections::BTreeSet;

use api::openapi::normalise;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{errno_json, spawn_app, TestApp};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (method, path, operation) of a document.
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                out.push((method, path.clone(), op.clone()));
            }
        }
    }
    out
}

fn library_document() -> Value {
    serde_json::from_str(api::openapi::json()).unwrap()
}

#[test]
fn the_route_table_and_the_document_list_the_same_routes() {
    let routes: BTreeSet<(String, String)> = api::routes::table()
        .endpoints()
        .iter()
        .map(|e| (e.method.to_string(), normalise(&e.path)))
        .collect();
    let documented: BTreeSet<(String, String)> = operations(&library_document())
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), normalise(&path)))
        .collect();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document (add #[utoipa::path] to the handler and list it in \
         openapi::ApiDoc): {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations that no route answers: {unrouted:?}"
    );
}

/// `path` with each `{param}` replaced by its documented example.
fn example_path(path: &str, op: &Value) -> String {
    let mut out = path.to_owned();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "path" {
            let name = p["name"].as_str().unwrap();
            let example = p["example"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: path parameter {name} has no example"));
            out = out.replace(&format!("{{{name}}}"), example);
        }
    }
    assert!(!out.contains('{'), "{path}: undocumented path parameter");
    out
}

/// Whether the app's fallback answered: the errno reply for `/api/…`, a bare 404 elsewhere.
async fn fell_through(res: reqwest::Response) -> bool {
    if res.status() == 404 || res.status() == 405 {
        return true;
    }
    let json = res
        .headers()
        .get("content-type")
        .is_some_and(|ct| ct.to_str().unwrap().starts_with("application/json"));
    if !json {
        return false;
    }
    let body: Value = res.json().await.unwrap_or(Value::Null);
    body["errno"] == "4103" && body["errmsg"] == api::startup::NO_SUCH_ROUTE
}

async fn served_document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn every_documented_operation_reaches_a_route() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "{} operations", ops.len());
    for (method, path, op) in ops {
        let url = app.url(&example_path(&path, &op));
        let res = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert!(
            !fell_through(res).await,
            "{method} {path}: the app has no such route"
        );
    }
}

#[tokio::test]
async fn the_protection_the_document_states_is_the_one_the_app_applies() {
    let app = spawn_app().await;
    app.visit().await; // a csrf_token cookie, so that only the header is missing below
    let doc = served_document(&app).await;
    for (method, path, op) in operations(&doc) {
        let url = app.url(&example_path(&path, &op));
        let same_site_only = op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Sec-Fetch-Site"));
        // Without a bearer token (an app's alternative needs no token).
        let needs_token = op["security"].as_array().is_some_and(|reqs| {
            let browser = reqs.iter().filter(|r| r.get("bearer").is_none());
            !reqs.is_empty()
                && browser.clone().count() > 0
                && browser.into_iter().all(|r| r.get("csrf_header").is_some())
        });
        let send_as = |cross_site: bool, bearer: bool| {
            let mut req = app.client.request(method.clone(), &url);
            if cross_site {
                req = req.header("Sec-Fetch-Site", "cross-site");
            }
            if bearer {
                req = req.bearer_auth("not-a-live-token");
            }
            req.send()
        };
        let send = |cross_site: bool| send_as(cross_site, false);
        let errmsg = |res: reqwest::Response| async move {
            let json = res
                .headers()
                .get("content-type")
                .is_some_and(|ct| ct.to_str().unwrap().starts_with("application/json"));
            if json {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                body["errmsg"].as_str().unwrap_or_default().to_owned()
            } else {
                String::new()
            }
        };
        let cross = errmsg(send(true).await.unwrap()).await;
        assert_eq!(
            cross == api::web::csrf::CROSS_SITE,
            same_site_only,
            "{method} {path}: documented same-site only: {same_site_only}, answered {cross:?}"
        );
        let plain = errmsg(send(false).await.unwrap()).await;
        assert_eq!(
            plain == api::web::csrf::NO_TOKEN,
            needs_token,
            "{method} {path}: documented to need X-CSRFToken: {needs_token}, answered {plain:?}"
        );
        let app_like = errmsg(send_as(false, true).await.unwrap()).await;
        assert_ne!(
            app_like,
            api::web::csrf::NO_TOKEN,
            "{method} {path}: a request with a bearer token and no session cookie needs no X-CSRFToken"
        );
        let app_cross = errmsg(send_as(true, true).await.unwrap()).await;
        assert_eq!(
            app_cross == api::web::csrf::CROSS_SITE,
            same_site_only,
            "{method} {path}: a bearer token does not make a cross-site request acceptable; answered {app_cross:?}"
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_library_document() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, library_document());
}

#[tokio::test]
async fn swagger_ui_is_served_and_reads_the_document() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/api/docs/");

    let res = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");

    let script = app.get_text("/api/docs/swagger-initializer.js").await;
    assert!(script.contains("\"/api/openapi.json\""), "{script}");
}

#[tokio::test]
async fn unknown_paths_under_api_still_answer_the_errno_json() {
    let app = spawn_app().await;
    for path in ["/api/nope", "/api/docs/nope.js", "/api/v1.0/nope"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        let body = errno_json(res).await;
        assert_eq!(body["errno"], "4103", "{path}: {body}");
        assert_eq!(body["errmsg"], api::startup::NO_SUCH_ROUTE, "{path}");
    }
    // A documented path with a method it does not have.
    let res = app
        .client
        .post(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(errno_json(res).await["errno"], "4103");
    // Outside /api/, unknown paths stay a bare 404.
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
