//! What the CLI's two JSON HTTP APIs share (`ocpp csms --http`, [`crate::api`], and `ocpp cp
//! --control`, `control.rs`): routes kept in a list that a test compares with the API's
//! OpenAPI document, a JSON 404 for unknown paths, and the JSON bodies of answers and errors.

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::{Value, json};

/// One route of an API: method, path (OpenAPI template syntax, which axum 0.8 shares) and
/// handler.
pub(crate) struct Route<S> {
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the handler carries the method")
    )]
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) handler: MethodRouter<S>,
}

/// A router of `routes` whose unknown paths get a JSON 404.
pub(crate) fn build_router<S: Clone + Send + Sync + 'static>(routes: Vec<Route<S>>) -> Router<S> {
    routes
        .into_iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, route.handler)
        })
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                format!("no route {method} {} (see GET /openapi.json)", uri.path()),
            )
        })
}

/// A JSON error body `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// `body` with status 200.
pub(crate) fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Fails unless the OpenAPI `document` has exactly the operations of `routes`.
#[cfg(test)]
pub(crate) fn assert_documented<S>(document: &str, routes: &[Route<S>]) {
    use std::collections::BTreeSet;
    let served: BTreeSet<String> = routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(documented(document), served);
}

/// Every path and method of the OpenAPI `document`, as `METHOD path`.
#[cfg(test)]
fn documented(document: &str) -> std::collections::BTreeSet<String> {
    let document: Value = serde_json::from_str(document).expect("the document is JSON");
    assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut operations = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
            ) {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check itself can fail: a route the document lacks is caught.
    #[test]
    #[should_panic(expected = "assertion")]
    fn an_undocumented_route_fails_the_check() {
        let document = r#"{"openapi": "3.0.3", "paths": {"/a": {"get": {}}}}"#;
        let routes: Vec<Route<()>> = vec![
            Route {
                method: Method::GET,
                path: "/a",
                handler: axum::routing::get(|| async { "a" }),
            },
            Route {
                method: Method::POST,
                path: "/b",
                handler: axum::routing::post(|| async { "b" }),
            },
        ];
        assert_documented(document, &routes);
    }
}
