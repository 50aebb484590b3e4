//! Rendering console pages: minijinja templates embedded in the binary
//! (HTML auto-escaping on, so spec text and module data cannot become
//! markup), the stylesheet served under its digest, and the headers every
//! page carries (a Content-Security-Policy that allows nothing but this
//! origin, no caching of pages, no referrer).

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::{Caller, Role};
use crate::console::session::Session;
use crate::problem::Problem;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../console/templates/base.html"),
    ),
    (
        "sign_in.html",
        include_str!("../../console/templates/sign_in.html"),
    ),
    (
        "agents.html",
        include_str!("../../console/templates/agents.html"),
    ),
    (
        "module.html",
        include_str!("../../console/templates/module.html"),
    ),
    (
        "build.html",
        include_str!("../../console/templates/build.html"),
    ),
    (
        "jobs.html",
        include_str!("../../console/templates/jobs.html"),
    ),
    ("job.html", include_str!("../../console/templates/job.html")),
];

/// The embedded assets: (name, extension, content type, contents).
const ASSETS: &[(&str, &str, &str, &str)] = &[
    (
        "console",
        "css",
        "text/css; charset=utf-8",
        include_str!("../../console/assets/console.css"),
    ),
    (
        "console",
        "js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/assets/console.js"),
    ),
];

/// Every page's policy: scripts, styles, images and requests only from
/// this origin (no inline script), forms only to it, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                // Templates are embedded: a broken one fails every test that
                // renders a page; the page then says so (see `page`).
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env
    })
}

/// The URL of the asset with `extension`: its content digest is in the
/// name, so it can be cached forever.
pub fn asset_href(extension: &str) -> String {
    ASSETS
        .iter()
        .find(|(_, ext, _, _)| *ext == extension)
        .map(|(name, ext, _, contents)| {
            format!("/console/assets/{}", digest_name(name, ext, contents))
        })
        .unwrap_or_default()
}

fn digest_name(name: &str, extension: &str, contents: &str) -> String {
    let digest = hex::encode(Sha256::digest(contents.as_bytes()));
    format!("{name}-{}.{extension}", &digest[..16])
}

/// `GET /console/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, _, content_type, contents)) = ASSETS
        .iter()
        .find(|(name, ext, _, contents)| digest_name(name, ext, contents) == file)
    else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *contents,
    )
        .into_response()
}

/// The signed-in operator as pages show them (no key, ever).
#[derive(Debug, Serialize)]
pub struct UserView {
    /// Their tenant.
    pub tenant: String,
    /// Their strongest role.
    pub role: &'static str,
    /// Whether they may switch tenant.
    pub admin: bool,
    /// Whether they may build, install and update.
    pub builder: bool,
    /// The token their forms carry.
    pub csrf: String,
}

impl UserView {
    /// The view of `session`'s operator.
    pub fn of(session: &Session) -> UserView {
        let caller: &Caller = &session.caller;
        let role = role_name(caller);
        UserView {
            tenant: caller.tenant.clone(),
            role,
            admin: caller.may(Role::Admin),
            builder: caller.may(Role::Builder),
            csrf: session.csrf.clone(),
        }
    }
}

/// The caller's strongest role, by name.
pub fn role_name(caller: &Caller) -> &'static str {
    if caller.may(Role::Admin) {
        "admin"
    } else if caller.may(Role::Builder) {
        "builder"
    } else {
        "viewer"
    }
}

/// A problem as the console shows it, next to what caused it.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    /// Short title.
    pub title: String,
    /// What was wrong.
    pub detail: String,
    /// What to do about it, in the console's terms.
    pub hint: Option<String>,
}

impl From<&Problem> for ErrorView {
    fn from(problem: &Problem) -> ErrorView {
        ErrorView {
            title: problem.title.to_string(),
            detail: problem.detail.clone(),
            hint: problem
                .hint_data
                .as_ref()
                .map(|hint| crate::console::hints::render(hint))
                .or_else(|| problem.hint.clone()),
        }
    }
}

/// A page's status: the problem's when it shows one, else 200.
pub fn status_of(problem: Option<&Problem>) -> StatusCode {
    problem.map_or(StatusCode::OK, |p| {
        StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    })
}

/// `template` (a list page) showing only `problem`, with its status.
pub fn problem_page(
    session: &Session,
    template: &str,
    page_name: &str,
    problem: &Problem,
) -> Response {
    page(
        status_of(Some(problem)),
        template,
        minijinja::context! { page => page_name, user => UserView::of(session), error => ErrorView::from(problem) },
    )
}

/// Renders `template` with `context` (which gets `css` added) as a page
/// with `status`.
pub fn page(status: StatusCode, template: &str, context: minijinja::Value) -> Response {
    let context =
        minijinja::context! { css => asset_href("css"), js => asset_href("js"), ..context };
    let rendered = environment()
        .get_template(template)
        .and_then(|t| t.render(context));
    let mut response = match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "cannot render a console page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the console cannot render this page; the service log says why",
            )
                .into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/console/templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("the templates folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(files, embedded);
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(environment().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn module_data_is_escaped() {
        let html = environment()
            .get_template("sign_in.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    error => ErrorView { title: "<b>".into(), detail: "<script>alert(1)</script>".into(), hint: None },
                })
            })
            .expect("renders");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}
