//! The route table as data: every route the service answers is one [`Endpoint`] — its method,
//! full path, protection and handler — in one [`Table`]. `startup` registers the table with
//! actix; the OpenAPI document takes each route's protection from it, and a test compares its
//! (method, path) pairs with the document's (actix cannot list the routes of a built `App`).
//!
//! A route is declared with the constructor that says how it is protected: [`get`] for a
//! route that only reads, or one of [`csrf`](super::csrf)'s ([`csrf::post`](super::csrf::post),
//! [`csrf::delete`](super::csrf::delete), [`csrf::exempt_post`](super::csrf::exempt_post),
//! [`csrf::action_get`](super::csrf::action_get)). Each returns a [`Declared`] that carries the
//! method and protection along with the actix [`Route`], so the table cannot record one thing
//! and register another.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};

/// How a route is protected (see [`super::csrf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Changes nothing: no protection needed.
    None,
    /// Changes state, so a request the browser marks `Sec-Fetch-Site: cross-site` is refused;
    /// no token (a captcha guards it, or its front ends send none).
    SameSite,
    /// Changes who is signed in: same-site only, and `X-CSRFToken` must equal the
    /// `csrf_token` cookie.
    Token,
}

/// A route as the table declares it: method and protection, with the actix route that
/// implements them. Built only by [`get`] and the [`csrf`](super::csrf) constructors.
pub struct Declared {
    method: Method,
    protection: Protection,
    route: Route,
}

impl Declared {
    pub(crate) fn new(method: Method, protection: Protection, route: Route) -> Self {
        Self {
            method,
            protection,
            route,
        }
    }
}

/// A GET route that only reads: no protection.
pub fn get<F, Args>(handler: F) -> Declared
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Declared::new(Method::GET, Protection::None, web::get().to(handler))
}

/// One route of the table.
pub struct Endpoint {
    pub method: Method,
    /// The full path as actix matches it (`{name}` or `{name:regex}` segments).
    pub path: String,
    pub protection: Protection,
    route: Route,
}

/// Every route of the service, in the order they are matched.
#[derive(Default)]
pub struct Table {
    endpoints: Vec<Endpoint>,
}

impl Table {
    /// Routes whose paths start with `prefix`.
    pub fn scope(&mut self, prefix: &'static str) -> Scope<'_> {
        Scope {
            table: self,
            prefix,
        }
    }

    pub fn route(&mut self, path: &str, declared: Declared) -> &mut Self {
        self.endpoints.push(Endpoint {
            method: declared.method,
            path: path.to_owned(),
            protection: declared.protection,
            route: declared.route,
        });
        self
    }

    /// The table without the routes on `path` (a route served by another listener).
    pub fn without(mut self, path: &str) -> Self {
        self.endpoints.retain(|e| e.path != path);
        self
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Register every route with actix: each its own resource, guarded by its method (what
    /// `web::scope(…).route(…)` does), so two methods on one path are two entries and any
    /// other method falls through to the app's default service.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for endpoint in self.endpoints {
            cfg.route(&endpoint.path, endpoint.route);
        }
    }
}

/// [`Table::scope`]: `route` paths are relative to the prefix.
pub struct Scope<'t> {
    table: &'t mut Table,
    prefix: &'static str,
}

impl Scope<'_> {
    pub fn route(self, path: &str, declared: Declared) -> Self {
        self.table
            .route(&format!("{}{path}", self.prefix), declared);
        self
    }
}
