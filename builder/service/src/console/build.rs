//! `GET/POST /console/build`: **Add Vendor Spec → Build Adapter**. The form
//! (multipart, so specs can be uploaded as one file, several files, a
//! folder or an archive) becomes the same typed [`AdapterRequest`] the API
//! takes, and goes through the same intake: **Check** shows what would be
//! built; **Build** queues the job and opens its page. Errors appear above
//! the form with their detail and a hint in the form's terms, and the form
//! keeps what was entered (except uploaded files, which browsers never
//! prefill).

use std::collections::BTreeMap;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::console::Operator;
use crate::console::view::{ErrorView, UserView, page};
use crate::intake::CheckReport;
use crate::problem::Problem;
use crate::request::{AdapterRequest, Protocol, Signing, TargetName};
use crate::state::AppState;
use crate::store::Inserted;

/// What the operator entered, echoed back into the form.
#[derive(Debug, Default, Serialize)]
pub struct BuildForm {
    name: String,
    protocol: String,
    target: String,
    version: String,
    spec_text: String,
    source_url: String,
    entry: String,
    signing_key: String,
    intents: String,
    push: String,
    strict: bool,
    #[serde(skip)]
    action: String,
    #[serde(skip)]
    csrf: String,
    #[serde(skip)]
    uploads: Vec<(String, Vec<u8>)>,
}

/// `GET /console/build`.
pub async fn form(State(state): State<AppState>, operator: Operator) -> Response {
    let form = BuildForm {
        protocol: "rest".into(),
        target: "wasm".into(),
        version: "0.1.0".into(),
        ..BuildForm::default()
    };
    render(&state, &operator, &form, StatusCode::OK, None, None)
}

/// `POST /console/build`.
pub async fn submit(
    State(state): State<AppState>,
    operator: Operator,
    multipart: Multipart,
) -> Response {
    let form = match read_form(multipart).await {
        Ok(form) => form,
        Err(problem) => {
            return refuse(&state, &operator, &BuildForm::default(), &problem);
        }
    };
    if let Some(refused) = operator.refusal_unless_csrf(&form.csrf) {
        return refused;
    }
    if !operator.0.caller.may(Role::Builder) {
        let problem = Problem::forbidden("building adapters needs the builder role");
        return render(
            &state,
            &operator,
            &form,
            StatusCode::FORBIDDEN,
            Some(&problem),
            None,
        );
    }
    let request = match adapter_request(&form) {
        Ok(request) => request,
        Err(problem) => {
            return refuse(&state, &operator, &form, &problem);
        }
    };
    let caller = &operator.0.caller;
    if form.action == "check" {
        return match crate::intake::check(&state, caller, request).await {
            Ok(report) => render(&state, &operator, &form, StatusCode::OK, None, Some(report)),
            Err(problem) => refuse(&state, &operator, &form, &problem),
        };
    }
    let digest = hex::encode(Sha256::digest(
        serde_json::to_vec(&request).unwrap_or_default(),
    ));
    match crate::api::enqueue(&state, caller, request, digest, None).await {
        Ok(Inserted::New(job) | Inserted::Existing(job)) => {
            Redirect::to(&format!("/console/jobs/{}", job.id)).into_response()
        }
        Err(problem) => refuse(&state, &operator, &form, &problem),
    }
}

/// The form again, with `problem` above it and its status.
fn refuse(state: &AppState, operator: &Operator, form: &BuildForm, problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    render(state, operator, form, status, Some(problem), None)
}

fn render(
    state: &AppState,
    operator: &Operator,
    form: &BuildForm,
    status: StatusCode,
    problem: Option<&Problem>,
    report: Option<CheckReport>,
) -> Response {
    let caller = &operator.0.caller;
    page(
        status,
        "build.html",
        minijinja::context! {
            page => "build", user => UserView::of(&operator.0), form => form,
            signing_keys => state.config.key_refs_for(&caller.tenant),
            registries => state.config.registries.clone(),
            error => problem.map(ErrorView::from), report => report,
        },
    )
}

/// The most files one form may upload (the API's own limits apply after).
const MAX_UPLOADS: usize = 1000;

async fn read_form(mut multipart: Multipart) -> Result<BuildForm, Problem> {
    let mut form = BuildForm::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Problem::bad_request(format!("the form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| Problem::bad_request(format!("the form's field {name}: {e}")))?;
        if name == "spec_files" {
            // An empty file input still sends one part without a name.
            if let Some(file_name) = file_name.filter(|n| !n.is_empty()) {
                if form.uploads.len() == MAX_UPLOADS {
                    return Err(Problem::invalid(format!(
                        "at most {MAX_UPLOADS} files per build"
                    )));
                }
                form.uploads.push((file_name, bytes.to_vec()));
            }
            continue;
        }
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            Problem::bad_request(format!("the form's field {name} is not UTF-8 text"))
        })?;
        match name.as_str() {
            "name" => form.name = text.trim().to_string(),
            "protocol" => form.protocol = text,
            "target" => form.target = text,
            "version" => form.version = text.trim().to_string(),
            "spec_text" => form.spec_text = text,
            "source_url" => form.source_url = text.trim().to_string(),
            "entry" => form.entry = text.trim().to_string(),
            "signing_key" => form.signing_key = text,
            "intents" => form.intents = text,
            "push" => form.push = text.trim().to_string(),
            "strict" => form.strict = true,
            "action" => form.action = text,
            "csrf" => form.csrf = text,
            _ => {}
        }
    }
    Ok(form)
}

/// The form as the API's request: the one typed value both front ends
/// hand to the intake.
fn adapter_request(form: &BuildForm) -> Result<AdapterRequest, Problem> {
    let protocol = match form.protocol.as_str() {
        "grpc" => Protocol::Grpc,
        "rest" | "" => Protocol::Rest,
        other => {
            return Err(Problem::invalid(format!(
                "protocol {other:?} is not REST or gRPC"
            )));
        }
    };
    let target = match form.target.as_str() {
        "grpc" => Some(TargetName::Grpc),
        "wasm" => Some(TargetName::Wasm),
        "" => None,
        other => {
            return Err(Problem::invalid(format!(
                "target {other:?} is not a WASM component or a gRPC service"
            )));
        }
    };
    let mut request = AdapterRequest {
        name: form.name.clone(),
        protocol,
        source: (!form.source_url.is_empty()).then(|| form.source_url.clone()),
        spec: (!form.spec_text.trim().is_empty())
            .then(|| serde_json::Value::String(form.spec_text.clone())),
        signing: (!form.signing_key.is_empty()).then(|| Signing {
            cosign_key_ref: form.signing_key.clone(),
        }),
        target,
        version: (!form.version.is_empty()).then(|| form.version.clone()),
        intents: intent_overrides(&form.intents)?,
        resources: None,
        push: (!form.push.is_empty()).then(|| form.push.clone()),
        files: None,
        archive: None,
        entry: (!form.entry.is_empty()).then(|| form.entry.clone()),
        strict: form.strict.then_some(true),
    };
    attach_uploads(&mut request, &form.uploads)?;
    Ok(request)
}

/// `operationId=intent` lines.
fn intent_overrides(text: &str) -> Result<Option<BTreeMap<String, String>>, Problem> {
    let mut overrides = BTreeMap::new();
    for (i, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((operation, intent)) = line.split_once('=') else {
            return Err(Problem::invalid(format!(
                "intent overrides, line {}: write operationId=intent",
                i + 1
            )));
        };
        overrides.insert(operation.trim().to_string(), intent.trim().to_string());
    }
    Ok((!overrides.is_empty()).then_some(overrides))
}

fn is_archive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".zip", ".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Uploaded files: one archive (with the entry named), one spec file, or
/// several files (a multi-file spec or a proto folder, entry named).
fn attach_uploads(
    request: &mut AdapterRequest,
    uploads: &[(String, Vec<u8>)],
) -> Result<(), Problem> {
    match uploads {
        [] => Ok(()),
        [(name, bytes)] if is_archive(name) => {
            request.archive = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
            Ok(())
        }
        [(name, bytes)] if request.entry.is_none() => {
            let text = String::from_utf8(bytes.clone())
                .map_err(|_| Problem::invalid(format!("{name} is not UTF-8 text; upload a spec document, or an archive (.zip, .tar, .tar.gz)")))?;
            request.spec = Some(serde_json::Value::String(text));
            Ok(())
        }
        several => {
            let mut files = BTreeMap::new();
            for (name, bytes) in several {
                let text = String::from_utf8(bytes.clone()).map_err(|_| {
                    Problem::invalid(format!("{name} is not UTF-8 text; several files must all be spec documents or .proto files"))
                })?;
                files.insert(name.clone(), text);
            }
            if request.entry.is_none() {
                return Err(Problem::invalid(format!(
                    "{} files were uploaded: name the entry file (one of: {})",
                    files.len(),
                    files
                        .keys()
                        .take(10)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            request.files = Some(files);
            Ok(())
        }
    }
}
