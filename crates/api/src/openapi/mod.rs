//! The OpenAPI 3.1 document of the service, served at `GET /api/openapi.json` (Swagger UI at
//! `/api/docs/`).
//!
//! Where each part comes from:
//! - every operation from its handler's `#[utoipa::path]` (listed in [`ApiDoc`]): path,
//!   parameters, request body (the DTOs derive `ToSchema`), and its errno replies
//!   ([`answers::Replies`]);
//! - each route's protection from the route table ([`crate::routes::table`]), where the route
//!   declares it: a state-changing route gets the `Sec-Fetch-Site` header and its refusal, a
//!   route declared with `csrf::post` / `csrf::delete` also the `csrf_cookie` + `csrf_header`
//!   security requirement and the token refusal ([`add_protection`]);
//! - the overview (wire format, the errno table) from `reply.rs`.
//!
//! The test `openapi` in `tests/api` compares the document's (method, path) pairs with the
//! route table's, both ways.

pub mod answers;

use std::sync::OnceLock;

use actix_web::http::Method;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, Required};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::reply::Errno;
use crate::routes::{self, account, captcha, docs, lifecycle, ops, passport, sessions, sms};
use crate::web::csrf::{CSRF_COOKIE, CSRF_HEADER};
use crate::web::session::SESSION_COOKIE;
use crate::web::table::Protection;
use answers::Envelope;

/// The document. [`json`] is what the service serves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "yanzheng",
        version = env!("CARGO_PKG_VERSION"),
        description = "Image captchas, SMS codes and sign-up (see the overview below).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        captcha::image_code,
        sms::send_json,
        sms::send_query,
        account::register,
        account::sign_in,
        account::sign_out_plural,
        account::session,
        account::sign_out,
        account::profile,
        lifecycle::reset_password,
        lifecycle::change_password,
        lifecycle::change_mobile,
        sessions::list,
        sessions::end_all,
        sessions::end_one,
        passport::image_code,
        passport::sms_code,
        passport::smscode,
        passport::register,
        passport::login,
        passport::logout_link,
        passport::logout,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        docs::openapi_json,
        docs::swagger_ui,
        docs::swagger_file,
    ),
    components(schemas(Envelope, Health, Readiness)),
    tags(
        (name = "captcha", description = "Image captchas: the gate before an SMS is sent."),
        (name = "sms", description = "Sending a one-time SMS code (SPEC §3)."),
        (name = "account", description = "Registration, sign-in, the session, and the account's life: password reset and change, change of number, a user's sessions and app tokens (SPEC §5, §5a)."),
        (name = "news-compat", description = "The news site's (新经资讯) paths and field names for the same use cases (SPEC §7)."),
        (name = "ops", description = "Probes, metrics and this description."),
    ),
    modifiers(&Overview, &SecuritySchemes, &RouteProtection),
)]
pub struct ApiDoc;

/// The document as JSON, built on first use.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi().to_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not serialise the OpenAPI document");
            String::from("{}")
        })
    })
}

/// `info.description`: what every client must know first.
struct Overview;

impl Modify for Overview {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let mut text = String::from(OVERVIEW);
        for errno in Errno::ALL {
            text.push_str(&format!(
                "| `{}` | {} | {} |\n",
                errno.code(),
                errno.name(),
                errno.default_msg()
            ));
        }
        doc.info.description = Some(text);
    }
}

const OVERVIEW: &str = "\
yanzheng (验证) issues image captchas, sends one-time SMS codes gated by them, and registers and \
signs in users with the verified number, wire-compatible with the iHome / 新经资讯 jQuery front ends.

**Wire format.** Every handled outcome under `/api/v1.0` and `/passport` is **HTTP 200** with \
`Content-Type: application/json` and the body `{\"errno\": \"<code>\", \"errmsg\": \"<text>\"}`, plus \
`data` where a route says so (the one exception: a captcha image). `errno` is a JSON string. Each \
route's response lists the errno replies it can give — code, errmsg, when — in its description \
and, as data, in the response's `x-errno` extension (`[{errno, name, errmsg, when, \
retry_after}]`). A limit's refusal (REQERR, IPERR) carries `Retry-After: <seconds>` and \
`data.retry_after`. Unknown paths under `/api/` answer PARAMERR `接口不存在`.

**Cookies and CSRF.** `csrf_token` (JS-readable) is set on every response to a request that came \
without one. Routes that change who is signed in need `X-CSRFToken` equal to it (security \
`csrf_cookie` + `csrf_header`); every state-changing route refuses `Sec-Fetch-Site: cross-site`. \
`session` (HttpOnly) is set on registration and sign-in.

**Apps.** `\"client\": \"app\"` in the body of registration, sign-in and password reset returns `data.token` and `data.expires_in` instead of setting the cookie; `Authorization: Bearer <token>` then authenticates any route (security `bearer`). A request with no session cookie and a bearer token or `\"client\": \"app\"` needs no `X-CSRFToken`; a session cookie and a bearer together are PARAMERR. A missing, malformed, unknown, expired or ended credential is SESSIONERR `false`.

| errno | name | default errmsg |
|---|---|---|
";

/// `components.securitySchemes`: the cookies and headers a route may need.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Components::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie (HttpOnly), set on registration and sign-in.",
            ))),
        );
        components.add_security_scheme(
            "csrf_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                CSRF_COOKIE,
                "Set by the service on any response to a request without it; JS-readable.",
            ))),
        );
        components.add_security_scheme(
            "csrf_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "Must equal the csrf_token cookie (double submit); otherwise REQERR.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An app token: `data.token` of an app's registration, sign-in or \
                         password reset (`\"client\": \"app\"`). Never together with the \
                         session cookie.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`metrics.token`, when it is set (otherwise /metrics is open).",
                    ))
                    .build(),
            ),
        );
    }
}

/// Each route's protection, from the route table.
struct RouteProtection;

impl Modify for RouteProtection {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let table = routes::table();
        for endpoint in table.endpoints() {
            if endpoint.protection == Protection::None {
                continue;
            }
            // A route the document lacks is the comparison test's to report.
            if let Some(operation) = operation_mut(doc, &endpoint.method, &endpoint.path) {
                add_protection(operation, endpoint.protection);
            }
        }
    }
}

/// `{name}` and `{name:regex}` both as `{}`: actix's and OpenAPI's spelling of one path.
pub fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The document's operation for `method` on the path that normalises like `path`.
pub fn operation_mut<'d>(
    doc: &'d mut utoipa::openapi::OpenApi,
    method: &Method,
    path: &str,
) -> Option<&'d mut Operation> {
    let wanted = normalise(path);
    let item = doc
        .paths
        .paths
        .iter_mut()
        .find(|(p, _)| normalise(p) == wanted)
        .map(|(_, item)| item)?;
    let slot = match *method {
        Method::GET => &mut item.get,
        Method::POST => &mut item.post,
        Method::PUT => &mut item.put,
        Method::DELETE => &mut item.delete,
        Method::PATCH => &mut item.patch,
        Method::HEAD => &mut item.head,
        Method::OPTIONS => &mut item.options,
        Method::TRACE => &mut item.trace,
        _ => return None,
    };
    slot.as_mut()
}

/// What a state-changing route adds to its operation: the `Sec-Fetch-Site` header and its
/// refusal; with [`Protection::Token`] also the CSRF pair in every security requirement and
/// the token's refusal.
pub fn add_protection(operation: &mut Operation, protection: Protection) {
    let mut refusals = vec![answers::CROSS_SITE];
    let mut note = String::from(
        "**Protection:** changes state, so a request the browser marks \
         `Sec-Fetch-Site: cross-site` is refused.",
    );
    if protection == Protection::Token {
        refusals.push(answers::NO_TOKEN);
        note.push_str(
            " Needs `X-CSRFToken` equal to the `csrf_token` cookie — unless the request has no \
             session cookie and carries a bearer token or `\"client\": \"app\"` in its body.",
        );
        // An app's bearer alternative needs no CSRF pair.
        let with_csrf = |r: SecurityRequirement| {
            let by_bearer = serde_json::to_value(&r).is_ok_and(|v| v.get("bearer").is_some());
            if by_bearer {
                r
            } else {
                r.add("csrf_cookie", Vec::<String>::new())
                    .add("csrf_header", Vec::<String>::new())
            }
        };
        let requirements = operation.security.take().unwrap_or_default();
        operation.security = Some(if requirements.is_empty() {
            vec![with_csrf(SecurityRequirement::default())]
        } else {
            requirements.into_iter().map(with_csrf).collect()
        });
    }
    let site = ParameterBuilder::new()
        .name("Sec-Fetch-Site")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Sent by browsers; `cross-site` is refused (REQERR 拒绝来自其他网站的请求). \
             `same-origin`, `same-site`, `none` and requests without it pass.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["same-origin", "same-site", "none", "cross-site"])),
        ))
        .build();
    operation.parameters.get_or_insert_with(Vec::new).push(site);
    let description = operation.description.get_or_insert_with(String::new);
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(&note);
    if let Some(utoipa::openapi::RefOr::T(response)) = operation.responses.responses.get_mut("200")
    {
        answers::add_outcomes(response, &refusals);
    }
}

/// What `GET /healthz` answers.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: String,
}

/// What `GET /readyz` answers.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ready", "checks": {"store": "ok", "database": "ok"}}))]
pub struct Readiness {
    pub status: ReadinessStatus,
    pub checks: Checks,
}

/// `ready` (HTTP 200); `unavailable` or `shutting_down` (after SIGTERM) with HTTP 503.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Ready,
    Unavailable,
    ShuttingDown,
}

/// One check per dependency.
#[derive(ToSchema)]
pub struct Checks {
    /// The state store (memory or Redis).
    pub store: Check,
    /// The user database.
    pub database: Check,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Check {
    Ok,
    Timeout,
    Error,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn doc() -> Value {
        serde_json::from_str(json()).unwrap()
    }

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// Every (path, method, operation) of the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.push((path.clone(), method.to_owned(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn normalise_drops_parameter_names_and_patterns() {
        assert_eq!(normalise("/api/docs/{file:.*}"), "/api/docs/{}");
        assert_eq!(normalise("/a/{id}/b/{x:[0-9]{2}}"), "/a/{}/b/{}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_info_from_cargo() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "yanzheng");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let description = doc["info"]["description"].as_str().unwrap();
        assert!(description.contains("| `4201` | REQERR |"), "{description}");
    }

    #[test]
    fn every_operation_has_responses_a_tag_and_a_unique_id() {
        let doc = doc();
        let mut ids = std::collections::HashSet::new();
        for (path, method, op) in operations(&doc) {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
            assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} twice");
        }
    }

    /// Every route that answers with the errno envelope lists its errnos, each one a code of
    /// the table, with a when.
    #[test]
    fn every_errno_route_lists_its_errnos() {
        let doc = doc();
        let codes: Vec<_> = Errno::ALL.iter().map(|e| e.code()).collect();
        for (path, method, op) in operations(&doc) {
            let errno_route = path.starts_with("/api/v1.0/") || path.starts_with("/passport/");
            let listed = &op["responses"]["200"]["x-errno"];
            if !errno_route {
                continue;
            }
            let rows = listed.as_array().unwrap_or_else(|| {
                panic!("{method} {path}: no x-errno list");
            });
            assert!(!rows.is_empty(), "{method} {path}: empty x-errno");
            for row in rows {
                assert!(codes.contains(&row["errno"].as_str().unwrap()), "{row}");
                assert!(!row["when"].as_str().unwrap().is_empty(), "{row}");
            }
            let json = &op["responses"]["200"]["content"]["application/json"];
            assert_eq!(json["schema"]["$ref"], "#/components/schemas/Envelope");
            assert_eq!(
                json["examples"].as_object().unwrap().len(),
                rows.len(),
                "{method} {path}: one example per row"
            );
        }
    }

    /// `$ref`s point at components that exist; security requirements at declared schemes.
    #[test]
    fn references_resolve() {
        let doc = doc();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(doc["components"]["schemas"][name].is_object(), "{r}");
        }
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        for (path, method, op) in operations(&doc) {
            for requirement in op["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{method} {path}: {name}");
                }
            }
        }
    }

    #[test]
    fn protection_comes_from_the_route_table() {
        let doc = doc();
        let op = |path: &str, method: &str| doc["paths"][path][method].clone();
        let has_site_header = |op: &Value| {
            op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Sec-Fetch-Site"))
        };
        let errmsgs = |op: &Value| -> Vec<String> {
            op["responses"]["200"]["x-errno"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["errmsg"].as_str().unwrap().to_owned())
                .collect()
        };
        // csrf::post: both cookies' requirement, both refusals.
        let register = op("/api/v1.0/users", "post");
        assert_eq!(
            register["security"],
            serde_json::json!([{"csrf_cookie": [], "csrf_header": []}])
        );
        assert!(has_site_header(&register));
        assert!(errmsgs(&register).contains(&crate::web::csrf::NO_TOKEN.to_owned()));
        // csrf::delete with an optional session: the pair joins each alternative.
        // An app's bearer alternative needs no pair.
        assert_eq!(
            op("/api/v1.0/session", "delete")["security"],
            serde_json::json!([
                {"csrf_cookie": [], "csrf_header": [], "session": []},
                {"bearer": []},
                {"csrf_cookie": [], "csrf_header": []}
            ])
        );
        // csrf::action_get: same-site only, no token.
        let link = op("/passport/logout", "get");
        assert!(has_site_header(&link));
        assert_eq!(link["security"], serde_json::json!([{"session": []}, {}]));
        let msgs = errmsgs(&link);
        assert!(msgs.contains(&crate::web::csrf::CROSS_SITE.to_owned()));
        assert!(!msgs.contains(&crate::web::csrf::NO_TOKEN.to_owned()));
        // A read-only route: neither.
        let captcha = op("/api/v1.0/image_codes/{image_code_id}", "get");
        assert!(!has_site_header(&captcha));
        assert!(captcha["responses"]["200"]["content"]["image/png"].is_object());
        // Retry-After where a row carries it.
        assert!(
            op("/api/v1.0/sms_codes", "post")["responses"]["200"]["headers"]["Retry-After"]
                .is_object()
        );
        assert_eq!(
            op("/metrics", "get")["security"],
            serde_json::json!([{"metrics_token": []}, {}])
        );
    }
}
