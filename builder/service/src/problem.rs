//! RFC 7807 problem details: every error answer is
//! `application/problem+json` with a stable `type` per kind.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Base of the `type` URIs.
pub const TYPE_BASE: &str = "https://aip.dev/problems/";

/// One problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://aip.dev/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, fixed per kind.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What was wrong, specifically.
    pub detail: String,
    /// What the caller could do about it, in this API's terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Extra headers (`Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// The hint as data, for front ends that word it in their own terms
    /// (the console); `hint` is its wording in the API's.
    #[serde(skip)]
    pub hint_data: Option<Box<aip_hint::Hint>>,
}

impl Problem {
    fn new(
        status: StatusCode,
        kind: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{kind}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            hint: None,
            retry_after: None,
            hint_data: None,
        }
    }

    /// This problem with a hint, rendered in the API's terms.
    pub fn with_hint(mut self, hint: Option<aip_hint::Hint>) -> Problem {
        self.hint = hint.as_ref().map(crate::hints::render);
        self.hint_data = hint.map(Box::new);
        self
    }

    /// 422 for a spec that did not ingest, with ingest's hint.
    pub fn from_ingest(error: &aip_ingest::IngestError) -> Problem {
        Problem::invalid_spec(error.to_string()).with_hint(error.hint())
    }

    /// 400: the request body or parameters are malformed.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Malformed request",
            detail,
        )
    }
    /// 422: well-formed, but the spec (or another field) is invalid.
    pub fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }
    /// 422: the spec does not ingest.
    pub fn invalid_spec(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-spec",
            "Invalid spec",
            detail,
        )
    }
    /// 422: a `source` URL points at an address the service may not reach.
    pub fn ssrf(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ssrf-refused",
            "Source address refused",
            detail,
        )
    }
    /// 401: no key, or an unknown one.
    pub fn unauthenticated() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
            "send a valid API key in X-API-Key",
        )
    }
    /// 403: the key's roles do not allow this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
    /// 409: an Idempotency-Key reused with another body.
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "idempotency-conflict",
            "Idempotency-Key reused",
            detail,
        )
    }
    /// 409: the request conflicts with the resource's state.
    pub fn conflict_state(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }
    /// 413.
    pub fn too_large(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request too large",
            detail,
        )
    }
    /// 501: a valid request this version cannot serve yet.
    pub fn not_supported(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-supported",
            "Not supported yet",
            format!("not supported yet: {}", detail.into()),
        )
    }
    /// 422: a module's signature does not verify with a trusted key.
    pub fn unverified(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "module-unverified",
            "Module not verified",
            detail,
        )
    }
    /// 502: a registry failed or could not be reached.
    pub fn bad_gateway(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            "registry-unavailable",
            "Registry unavailable",
            detail,
        )
    }
    /// 429: too many requests for this key; `Retry-After` says when.
    pub fn rate_limited(retry_after: u64) -> Problem {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("this API key's request rate is exceeded; retry in {retry_after} s"),
        );
        problem.retry_after = Some(retry_after);
        problem
    }
    /// 500 (details are logged, not sent).
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
