//! `aip-builder invoke <MODULE_DIR> <OPERATION> --input JSON [--credential scheme=value]... [--server URL]`

use std::path::PathBuf;

use aip_host::service::{InvokeFailure, ServiceProcess};
use aip_host::{AllowList, CallContext, Credential};
use aip_sign::{KeyRef, PublicKey};
use clap::Args;
use serde_json::json;

use crate::exit::{CliError, ErrorKind, internal, user};
use crate::progress::Format;

/// Call one operation of a module. WASM modules run in the embedded wasmtime
/// host, whose outgoing requests may reach only the hosts in the manifest's
/// permissions.net plus the --server override. gRPC modules run as their
/// static executable on a free loopback port (not sandboxed), called over
/// aip.adapter.v1.Adapter.
#[derive(Debug, Args)]
pub struct Opts {
    /// The module folder.
    module: PathBuf,
    /// Operation id (operationId, or the derived id `describe` shows).
    operation: String,
    /// Input JSON: the operation's parameters by name, plus `body`.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A credential for a security scheme: `scheme=value` (basic: `user:password`; bearer/oauth2/openIdConnect: the token).
    #[arg(long = "credential", value_name = "SCHEME=VALUE")]
    credentials: Vec<String>,
    /// Replace the spec's server URL entirely (base path included); for gRPC
    /// vendors, http(s)://host:port.
    #[arg(long)]
    server: Option<String>,
    /// Verify the module with this public key before running it.
    #[arg(long)]
    key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        if let Some(key) = &self.key {
            let key_ref = KeyRef::parse(key).map_err(user)?;
            let public = PublicKey::from_pem(&key_ref.read().map_err(user)?, &key_ref.display())
                .map_err(user)?;
            aip_register::verify_module(&self.module, &public).map_err(user)?;
        }
        let module = aip_register::open_module(&self.module).map_err(user)?;
        let mut credentials = Vec::new();
        for c in &self.credentials {
            let (scheme, value) = c.split_once('=').ok_or_else(|| {
                user(anyhow::anyhow!("--credential {c:?}: expected scheme=value"))
            })?;
            credentials.push((scheme.to_string(), value.to_string()));
        }
        let outcome = if module.manifest.runtime.kind == aip_register::Runtime::GRPC {
            let mut env = vec![("AIP_LOG", "info")];
            if let Some(server) = &self.server {
                env.push(("AIP_VENDOR_URL", server.as_str()));
            }
            let service = ServiceProcess::start(&module.payload, &env).map_err(internal)?;
            service
                .invoke(&self.operation, &self.input, &credentials, "")
                .map_err(internal)?
        } else {
            self.invoke_wasm(&module, credentials)?
        };
        match outcome {
            Ok(output) => {
                match self.format {
                    Format::Json => crate::outln!(
                        "{}",
                        json!({"ok": true, "output": serde_json::from_str::<serde_json::Value>(&output).unwrap_or(serde_json::Value::String(output))})
                    ),
                    Format::Text => crate::outln!("{output}"),
                }
                Ok(())
            }
            Err(failure) => {
                if self.format == Format::Json {
                    let mut error = json!({"kind": failure.kind, "message": failure.message});
                    if let Some((status, body)) = &failure.vendor {
                        error["status"] = json!(status);
                        error["body"] = json!(body);
                    }
                    crate::outln!("{}", json!({"ok": false, "error": error}));
                }
                let class = if failure.kind == "transport" {
                    ErrorKind::Internal
                } else {
                    ErrorKind::User
                };
                Err(CliError {
                    kind: class,
                    error: anyhow::anyhow!("{}: {}", self.operation, failure.message),
                })
            }
        }
    }

    fn invoke_wasm(
        &self,
        module: &aip_register::OpenedModule,
        credentials: Vec<(String, String)>,
    ) -> Result<Result<String, InvokeFailure>, CliError> {
        let mut allow = AllowList::new(module.manifest.permissions.net.clone());
        if let Some(server) = &self.server {
            let authority = aip_ir::authority_of(server).ok_or_else(|| {
                user(anyhow::anyhow!(
                    "--server {server:?} is not an absolute http(s) URL"
                ))
            })?;
            allow.push(&authority);
        }
        let mut adapter = crate::module_host::instantiate(module, allow)?;
        let ctx = CallContext {
            credentials: credentials
                .into_iter()
                .map(|(scheme, value)| Credential { scheme, value })
                .collect(),
            server_url: self.server.clone(),
            request_id: None,
        };
        Ok(adapter
            .invoke(&self.operation, &self.input, &ctx)
            .map_err(internal)?
            .map_err(|err| InvokeFailure {
                code: tonic::Code::Unknown,
                kind: aip_host::adapter_error_kind(&err),
                message: aip_host::describe_adapter_error(&err),
                vendor: match &err {
                    aip_host::AdapterError::Vendor(v) => {
                        Some((u32::from(v.status), v.body.clone()))
                    }
                    _ => None,
                },
            }))
    }
}
