//! The embedded web UI: three static files compiled into the binary
//! (`crates/thrum-daemon/ui/`), so `cargo build` needs no Node and the
//! daemon needs no files on disk. Every path that is not an asset gets the
//! page itself, whose script routes on the URL fragment.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

/// Scripts, styles and connections only from this origin; no framing (no
/// clickjacking); nothing inline but CSSOM style changes.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self' ws://localhost:* ws://127.0.0.1:*; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The response for `path`: an asset, the page, or an error.
pub fn serve(method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "the web UI only answers GET; the API is the WebSocket at /ws\n")
            .into_response();
    }
    let (ctype, body) = match path {
        "/assets/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/assets/app.css" => ("text/css; charset=utf-8", APP_CSS),
        p if p.starts_with("/assets/") => return (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
        _ => ("text/html; charset=utf-8", INDEX),
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Small files served from memory: always revalidate, so an upgraded
    // daemon never runs an old script against a new API.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_page_and_fallback() {
        let js = serve(&Method::GET, "/assets/app.js");
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let page = serve(&Method::GET, "/some/deep/link");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            page.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .is_ok_and(|c| c.contains("frame-ancestors 'none'"))
        );
        assert_eq!(serve(&Method::GET, "/assets/nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(serve(&Method::POST, "/").status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_page_references_only_embedded_assets() {
        for src in ["/assets/app.js", "/assets/app.css"] {
            assert!(INDEX.contains(src), "{src}");
        }
        // No inline script: the CSP would block it.
        assert!(!INDEX.contains("<script>"));
        assert!(!APP_JS.contains("innerHTML"), "text goes in through textContent only");
    }
}
