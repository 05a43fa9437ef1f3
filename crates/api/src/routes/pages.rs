//! Pages: our small demo at `/`, or with `web.static_dir` an existing iHome-style front end
//! (SPEC §8). The folder is laid out like iHome's `static/`: `html/*.html` are served at `/`
//! (`html/index.html`) and `/<name>.html`, and the whole folder under `/static/` (pages load
//! `/static/js/…`, `/static/css/…`, `/static/images/…`), plus `/favicon.ico` as the Flask apps
//! did. The CSRF middleware sets the `csrf_token` cookie on these responses like on every other,
//! so a page's first POST already carries a valid `X-CSRFToken`. Pages are sent with
//! `Cache-Control: no-cache`: a page shown from the browser's cache without asking the server
//! would not get that cookie, and its first POST would be refused.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

const DEMO_PAGE: &str = include_str!("../../assets/demo.html");

pub fn configure(cfg: &mut web::ServiceConfig, static_dir: Option<&Path>) {
    match static_dir {
        None => {
            cfg.route("/", web::get().to(demo));
        }
        Some(dir) => {
            cfg.app_data(web::Data::new(FrontEnd(dir.to_path_buf())))
                .route("/", web::get().to(html_index))
                .route("/favicon.ico", web::get().to(favicon))
                .route("/{name}.html", web::get().to(html_page))
                // actix-files refuses `..`-escapes, `%2F` and hidden (dot) segments, and lists
                // no folders.
                .service(Files::new("/static", dir));
        }
    }
}

async fn demo() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(DEMO_PAGE)
}

/// The `web.static_dir` folder.
struct FrontEnd(PathBuf);

async fn html_index(dir: web::Data<FrontEnd>, req: HttpRequest) -> HttpResponse {
    page(&dir.0.join("html").join("index.html"), &req).await
}

async fn html_page(
    dir: web::Data<FrontEnd>,
    name: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    // One path segment of safe characters: no way out of the folder.
    let name = name.into_inner();
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !safe {
        return HttpResponse::NotFound().finish();
    }
    page(&dir.0.join("html").join(format!("{name}.html")), &req).await
}

async fn favicon(dir: web::Data<FrontEnd>, req: HttpRequest) -> HttpResponse {
    match NamedFile::open_async(dir.0.join("favicon.ico")).await {
        Ok(file) => file.into_response(&req),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

/// An HTML page of the front end, revalidated on every visit (see the module docs).
async fn page(path: &Path, req: &HttpRequest) -> HttpResponse {
    match NamedFile::open_async(path).await {
        Ok(file) => {
            let mut res = file.into_response(req);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
        Err(_) => HttpResponse::NotFound().finish(),
    }
}
