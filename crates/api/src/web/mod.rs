//! HTTP plumbing shared by the routes: the route table's types, the request span, the CSRF
//! double submit, the session cookie and the client's address.

pub mod client_ip;
pub mod csrf;
pub mod request_span;
pub mod session;
pub mod table;

pub use client_ip::ClientIp;
pub use csrf::CsrfCookie;
pub use request_span::request_span;
pub use session::SessionCookie;
