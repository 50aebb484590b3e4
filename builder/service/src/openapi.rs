//! The service's own OpenAPI 3.1 document, generated from the handlers'
//! and types' annotations (utoipa), served at `GET /openapi.json`, and
//! checked in as `specs/aip-builder/openapi.json` (the suite fails when
//! they drift; `ci/generate` rewrites it). aip-builder builds an adapter
//! from it like from any vendor's spec.

use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{JobLinks, JobResponse};
use crate::modules::{ModuleInfo, Status, VersionInfo};
use crate::modules_api::{InstallRequest, InstallResult, ModuleList, VerifyResult};
use crate::problem::Problem;
use crate::request::{AdapterRequest, Protocol, ResourcesRequest, Signing, TargetName};
use crate::store::{Job, JobEvent, JobState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "aip-builder",
        description = "Turns vendor API specs (OpenAPI, protobuf) into signed AIP modules: submit a build, follow it, read and verify the registered modules.",
        license(name = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "aip-builder serve (default address)")),
    components(schemas(
        AdapterRequest, Protocol, TargetName, Signing, ResourcesRequest,
        Job, JobState, JobEvent, JobResponse, JobLinks,
        ModuleList, ModuleInfo, VersionInfo, Status, VerifyResult, InstallRequest, InstallResult,
        Problem,
    )),
    modifiers(&ApiKeyHeader),
    security(("api_key" = [])),
    tags(
        (name = "builder", description = "Build jobs"),
        (name = "modules", description = "Registered modules"),
        (name = "session", description = "Console sessions: an API key exchanged for an HttpOnly session cookie"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    ),
)]
pub(crate) struct ApiDoc;

/// `X-API-Key`, how programs authenticate (the console's session cookie
/// is accepted too; see `console/session.rs`).
struct ApiKeyHeader;

impl Modify for ApiKeyHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-API-Key",
                    "An API key from AIP_BUILDER_API_KEYS (key:role1|role2[:tenant]). A console session cookie is accepted instead; a request that changes anything then also needs the session's X-CSRF-Token header.",
                ))),
            );
        }
    }
}

/// The document, as pretty JSON with a trailing newline: the metadata and
/// components of [`ApiDoc`] with every route's operation.
pub fn document_json() -> String {
    let (_, document) = crate::routes::routes().split_for_parts();
    let mut json = document
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1", body = Object)),
)]
pub async fn document() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
        .into_response()
}
