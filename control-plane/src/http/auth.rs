//! Who may use the dashboard: with an API token configured, only a browser that gave
//! it (kept as a derived session cookie) or a client sending `authorization: Bearer`;
//! and never a cross-site form post.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sha2::{Digest as _, Sha256};

use super::web::Web;
use subtle::ConstantTimeEq as _;

/// Name of the session cookie.
const COOKIE: &str = "kiln_session";

/// The cookie value for `token`: a digest, so the token itself is not stored in the
/// browser.
fn session_value(token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"kiln dashboard session\0")
        .chain_update(token.as_bytes())
        .finalize();
    data_encoding::HEXLOWER.encode(&digest)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Whether the request carries the token, as a bearer header or session cookie.
fn signed_in(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())));
    bearer
        || cookie(headers, COOKIE).is_some_and(|given| {
            bool::from(given.as_bytes().ct_eq(session_value(token).as_bytes()))
        })
}

/// Whether a state-changing request comes from another site (a page elsewhere posting
/// a form to this host): its `Origin` names another host than the one it was sent to.
fn cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// Middleware over the dashboard's routes.
pub async fn guard(State(web): State<Web>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD);
    if unsafe_method && cross_site(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "cross-site requests are refused: use the dashboard on this host",
        )
            .into_response();
    }
    if let Some(token) = &web.host.config.api.token
        && !signed_in(request.headers(), token)
    {
        return if unsafe_method || request.uri().path() == "/live" {
            (
                StatusCode::UNAUTHORIZED,
                "sign in first: this host needs its API token",
            )
                .into_response()
        } else {
            Redirect::to("/login").into_response()
        };
    }
    next.run(request).await
}

/// The token form.
pub async fn login_page() -> Html<String> {
    Html(kiln_web::pages::login(None).into_string())
}

/// Checks the token and sets the session cookie.
pub async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    if cross_site(&headers) {
        return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    let Some(token) = &web.host.config.api.token else {
        return Redirect::to("/").into_response();
    };
    let given = form.get("token").map_or("", String::as_str);
    if given.is_empty() {
        return (
            StatusCode::UNAUTHORIZED,
            Html(kiln_web::pages::login(Some("Enter the token.")).into_string()),
        )
            .into_response();
    }
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(kiln_web::pages::login(Some("That is not this host's token.")).into_string()),
        )
            .into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        session_value(token)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_token_is_taken_from_a_bearer_header_or_the_session_cookie() {
        assert!(signed_in(
            &headers(&[("authorization", "Bearer s3cret")]),
            "s3cret"
        ));
        assert!(!signed_in(
            &headers(&[("authorization", "Bearer nope")]),
            "s3cret"
        ));
        let cookie = format!("a=b; {COOKIE}={}", session_value("s3cret"));
        assert!(signed_in(&headers(&[("cookie", &cookie)]), "s3cret"));
        assert!(!signed_in(
            &headers(&[("cookie", "kiln_session=s3cret")]),
            "s3cret"
        ));
        assert!(!signed_in(&headers(&[]), "s3cret"));
    }

    #[test]
    fn posts_from_other_sites_are_cross_site() {
        let same = headers(&[
            ("host", "127.0.0.1:4000"),
            ("origin", "http://127.0.0.1:4000"),
        ]);
        assert!(!cross_site(&same));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:4000")])));
        let other = headers(&[
            ("host", "127.0.0.1:4000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(cross_site(&other));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&headers(&[("host", "a:1"), ("origin", "null")])));
    }
}
