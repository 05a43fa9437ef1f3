//! This API's own description: the OpenAPI document and the Swagger UI that shows it (the UI's
//! files are compiled in: `utoipa-swagger-ui`'s `vendored` feature).

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::openapi::answers::{DocsFile, Replies};
use crate::reply::{Errno, Reply};
use crate::startup::NO_SUCH_ROUTE;

/// Where the document is served, and where the UI fetches it.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document, built once per process.",
        content_type = "application/json")),
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(crate::openapi::json())
}

/// The Swagger UI: a redirect to `/api/docs/` (its files load relative to that).
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "ops",
    responses((status = 302, description = "To `/api/docs/`.",
        headers(("Location" = String, description = "`/api/docs/`")))),
)]
pub async fn swagger_ui() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/api/docs/"))
        .finish()
}

/// A file of the Swagger UI; `/api/docs/` is its page.
#[utoipa::path(
    get,
    path = "/api/docs/{file}",
    tag = "ops",
    params(("file" = String, Path,
        description = "A file of the UI; empty for `index.html`.", example = "index.html")),
    responses(Replies<DocsFile>),
)]
pub async fn swagger_file(file: web::Path<String>) -> HttpResponse {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| Arc::new(Config::from(OPENAPI_PATH)));
    match utoipa_swagger_ui::serve(&file, config.clone()) {
        Ok(Some(file)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, file.content_type))
            .body(file.bytes.into_owned()),
        // Like any unknown path under /api/: the errno JSON, not a bare 404.
        Ok(None) => Reply::new(Errno::ParamErr, NO_SUCH_ROUTE).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not serve a Swagger UI file");
            Reply::of(Errno::ServerErr).into_response()
        }
    }
}
