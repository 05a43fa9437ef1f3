//! Pages: our small demo at `/`, or with `web.static_dir` an existing iHome-style front end
//! (`html/*.html` at `/` and `/<name>.html`, the rest under `/static/`). The CSRF middleware sets
//! the `csrf_token` cookie on these responses like on every other, so a page's first POST
//! already carries a valid `X-CSRFToken`.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

const DEMO_PAGE: &str = include_str!("../../assets/demo.html");

pub fn configure(cfg: &mut web::ServiceConfig, static_dir: Option<&Path>) {
    match static_dir {
        None => {
            cfg.route("/", web::get().to(demo));
        }
        Some(dir) => {
            let html = dir.join("html");
            let serve_html = web::Data::new(HtmlDir(html));
            cfg.app_data(serve_html)
                .route("/", web::get().to(html_index))
                .route("/{name}.html", web::get().to(html_page))
                .service(Files::new("/static", dir.join("static")));
        }
    }
}

async fn demo() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(DEMO_PAGE)
}

struct HtmlDir(PathBuf);

async fn html_index(dir: web::Data<HtmlDir>, req: HttpRequest) -> HttpResponse {
    serve(&dir.0.join("index.html"), &req)
}

async fn html_page(
    dir: web::Data<HtmlDir>,
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
    serve(&dir.0.join(format!("{name}.html")), &req)
}

fn serve(path: &Path, req: &HttpRequest) -> HttpResponse {
    match NamedFile::open(path) {
        Ok(file) => file.into_response(req),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}
