//! Every route of the service, declared once: `routes!` takes the path and
//! method from each handler's `#[utoipa::path]`, so the router and the
//! OpenAPI document are one list and cannot disagree.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use crate::{account_api, api, catalog, metrics, modules_api, openapi};

/// The routes with their OpenAPI operations (in the document's order).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(api::submit))
        .routes(routes!(api::check))
        .routes(routes!(account_api::list_jobs))
        .routes(routes!(api::job))
        .routes(routes!(api::events))
        .routes(routes!(api::logs))
        .routes(routes!(api::cancel))
        .routes(routes!(account_api::signing_keys))
        .routes(routes!(account_api::sign_in, account_api::sign_out))
        .routes(routes!(modules_api::list))
        .routes(routes!(modules_api::module))
        .routes(routes!(modules_api::part))
        .routes(routes!(modules_api::verify))
        .routes(routes!(modules_api::install))
        .routes(routes!(catalog::list))
        .routes(routes!(api::healthz))
        .routes(routes!(api::ready))
        .routes(routes!(metrics::metrics))
        .routes(routes!(openapi::document))
}
