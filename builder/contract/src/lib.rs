//! Contract tests of built modules: `aip-builder test MODULE --spec SPEC`.
//!
//! A mock vendor derived from the spec (`mock.rs`) judges every request
//! the module sends against the spec's parameters, credentials and body
//! schema (`validate.rs`) and answers with schema-valid data
//! (`synth.rs`). Every operation of the module is invoked with an input
//! synthesized from its input schema, every parameter included, and with a
//! credential for every security scheme; each is reported as accepted by
//! the mock (one request, to its own endpoint, nothing wrong with it) and
//! decoded (the module's output is JSON that fits the operation's output
//! schema). It catches what no generator checks: operations dropped or
//! sent to the wrong endpoint, credentials in the wrong place, parameters
//! serialized against their style, bodies that do not fit their schema.
//!
//! A gRPC vendor's module meets a mock gRPC server built from the spec's
//! descriptor set (`grpc_mock.rs`): it judges the method, the request
//! messages against their type and the credentials in the metadata, and
//! answers with messages synthesized from the descriptors
//! (`proto_synth.rs`).

mod grpc_mock;
mod mock;
mod proto_synth;
mod style;
mod synth;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aip_ir::{Api, SecurityScheme};
use serde::Serialize;
use serde_json::Value;

pub use grpc_mock::GrpcMockVendor;
pub use mock::MockVendor;
pub use synth::Synth;
pub use validate::{Request, Verdict, judge};

/// What can stop a contract test from running.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The module does not open.
    #[error("{0}")]
    Module(#[from] aip_register::RegisterError),
    /// The module does not run.
    #[error("the module does not run: {0}")]
    Run(String),
    /// The mock vendor cannot start.
    #[error("cannot start the mock vendor: {0}")]
    Mock(std::io::Error),
    /// The spec cannot be mocked.
    #[error("cannot mock the vendor: {0}")]
    Spec(String),
    /// A kind of module not tested yet.
    #[error("not supported yet: {0}")]
    NotSupported(String),
}

/// One operation's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationResult {
    /// The operation id.
    pub operation: String,
    /// The mock received one request, for this operation, with nothing
    /// wrong in it.
    pub accepted: bool,
    /// The module's output is JSON that fits the output schema.
    pub decoded: bool,
    /// What went wrong, if anything.
    pub problem: Option<String>,
}

/// Every operation's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// In spec order.
    pub operations: Vec<OperationResult>,
}

impl Report {
    /// Whether every operation passed.
    pub fn passed(&self) -> bool {
        self.operations.iter().all(|o| o.accepted && o.decoded)
    }
}

/// The credential the test gives the module for each security scheme.
pub fn test_credentials(api: &Api) -> BTreeMap<String, String> {
    api.security_schemes
        .iter()
        .map(|(name, scheme)| {
            let value = match scheme {
                SecurityScheme::Basic => format!("user-{name}:secret"),
                SecurityScheme::Bearer { .. } => format!("token-{name}"),
                _ => format!("key-{name}"),
            };
            (name.clone(), value)
        })
        .collect()
}

/// A module running under the test.
enum Running {
    Wasm(Box<aip_host::Adapter>, aip_host::CallContext),
    Service(aip_host::service::ServiceProcess, Vec<(String, String)>),
}

impl Running {
    fn start(
        module: &aip_register::OpenedModule,
        mock: &str,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Running, ContractError> {
        if module.manifest.runtime.kind == aip_register::Runtime::GRPC {
            return Running::service(&module.payload, mock, credentials);
        }
        Running::wasm(
            &module.payload,
            module.manifest.permissions.net.clone(),
            module
                .manifest
                .resources
                .memory_bytes()
                .unwrap_or(128 << 20),
            mock,
            credentials,
        )
    }

    /// A service executable started with the mock as its vendor.
    fn service(
        executable: &[u8],
        mock: &str,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Running, ContractError> {
        let service =
            aip_host::service::ServiceProcess::start(executable, &[("AIP_VENDOR_URL", mock)])
                .map_err(|e| ContractError::Run(e.to_string()))?;
        let pairs = credentials
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Running::Service(service, pairs))
    }

    /// A component instantiated with `net` and the mock as its allowed
    /// hosts.
    fn wasm(
        component: &[u8],
        net: Vec<String>,
        memory: usize,
        mock: &str,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Running, ContractError> {
        let mut allow = aip_host::AllowList::new(net);
        allow.push(mock.trim_start_matches("http://"));
        let adapter = aip_host::LoadedComponent::new(component)
            .and_then(|loaded| {
                loaded.instantiate(&aip_host::HostOptions {
                    allow,
                    max_memory_bytes: memory,
                })
            })
            .map_err(|e| ContractError::Run(e.to_string()))?;
        let context = aip_host::CallContext {
            credentials: credentials
                .iter()
                .map(|(scheme, value)| aip_host::Credential {
                    scheme: scheme.clone(),
                    value: value.clone(),
                })
                .collect(),
            server_url: Some(mock.to_string()),
            request_id: Some("aip-contract-test".into()),
        };
        Ok(Running::Wasm(Box::new(adapter), context))
    }

    /// The module's output, or its error as text.
    fn invoke(
        &mut self,
        operation: &str,
        input: &str,
    ) -> Result<Result<String, String>, ContractError> {
        match self {
            Running::Wasm(adapter, context) => adapter
                .invoke(operation, input, context)
                .map(|r| r.map_err(|e| aip_host::describe_adapter_error(&e)))
                .map_err(|e| ContractError::Run(e.to_string())),
            Running::Service(service, credentials) => service
                .invoke(operation, input, credentials, "aip-contract-test")
                .map(|r| r.map_err(|f| f.message))
                .map_err(|e| ContractError::Run(e.to_string())),
        }
    }
}

/// Runs the contract test of the module in `module_dir` against `api`
/// (the spec it was built from).
pub fn test_module(module_dir: &Path, api: &Api) -> Result<Report, ContractError> {
    let module = aip_register::open_module(module_dir)?;
    let api = Arc::new(api.clone());
    let credentials = test_credentials(&api);
    let vendor = Vendor::start(&api, &credentials)?;
    let running = Running::start(&module, vendor.url(), &credentials)?;
    run(&api, &vendor, running)
}

/// Runs the contract test of a compiled component (not yet a module:
/// the golden tests' crates) against `api`.
pub fn test_component(api: &Api, component: &[u8]) -> Result<Report, ContractError> {
    if api.protocol == aip_ir::Protocol::Grpc {
        return Err(ContractError::NotSupported(
            "a WASM component for a gRPC vendor (build it with --target grpc)".into(),
        ));
    }
    let api = Arc::new(api.clone());
    let credentials = test_credentials(&api);
    let vendor = Vendor::start(&api, &credentials)?;
    let running = Running::wasm(component, Vec::new(), 256 << 20, vendor.url(), &credentials)?;
    run(&api, &vendor, running)
}

/// Runs the contract test of a compiled gRPC service executable (not yet
/// a module: the golden tests' crates) against `api`.
pub fn test_service(api: &Api, executable: &[u8]) -> Result<Report, ContractError> {
    let api = Arc::new(api.clone());
    let credentials = test_credentials(&api);
    let vendor = Vendor::start(&api, &credentials)?;
    let running = Running::service(executable, vendor.url(), &credentials)?;
    run(&api, &vendor, running)
}

/// The mock vendor of a REST or gRPC API.
enum Vendor {
    Rest(MockVendor),
    Grpc(GrpcMockVendor),
}

impl Vendor {
    fn start(
        api: &Arc<Api>,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Vendor, ContractError> {
        Ok(match api.protocol {
            aip_ir::Protocol::Grpc => {
                Vendor::Grpc(GrpcMockVendor::start(api.clone(), credentials.clone())?)
            }
            _ => Vendor::Rest(MockVendor::start(api.clone(), credentials.clone())?),
        })
    }

    fn url(&self) -> &str {
        match self {
            Vendor::Rest(mock) => mock.url(),
            Vendor::Grpc(mock) => mock.url(),
        }
    }

    fn take(&self) -> Vec<Verdict> {
        match self {
            Vendor::Rest(mock) => mock.take(),
            Vendor::Grpc(mock) => mock.take(),
        }
    }

    /// The input the next call gives the module (a REST mock then checks
    /// each parameter in it was sent, in its style).
    fn expect(&self, input: &Value) {
        if let Vendor::Rest(mock) = self {
            mock.expect(input.clone());
        }
    }
}

/// Invokes every operation of `api` on `running`, judging each by what
/// `mock` saw.
fn run(api: &Api, mock: &Vendor, mut running: Running) -> Result<Report, ContractError> {
    let synth = Synth::new(&api.schemas);
    let mut operations = Vec::new();
    for op in &api.operations {
        let input = synth.value(&aip_ir::input_schema_root(op), 2);
        mock.expect(&input);
        let outcome = running.invoke(&op.id, &input.to_string())?;
        let verdicts = mock.take();
        operations.push(judge_operation(api, op, &verdicts, outcome));
    }
    Ok(Report { operations })
}

fn judge_operation(
    api: &Api,
    op: &aip_ir::Operation,
    verdicts: &[Verdict],
    outcome: Result<String, String>,
) -> OperationResult {
    let result = |accepted: bool, decoded: bool, problem: Option<String>| OperationResult {
        operation: op.id.clone(),
        accepted,
        decoded,
        problem,
    };
    let refused = match verdicts {
        [] => Some(match &outcome {
            Err(error) => format!("the vendor received no request (the module said: {error})"),
            Ok(_) => "the vendor received no request".to_string(),
        }),
        [one]
            if one.operation.as_deref() != Some(op.id.as_str())
                && !(one.problems.is_empty() && one.endpoint_of.contains(&op.id)) =>
        {
            Some(match &one.operation {
                Some(other) => format!("the request went to the endpoint of {other}"),
                None => one.problems.join("; "),
            })
        }
        [one] if !one.problems.is_empty() => Some(one.problems.join("; ")),
        [_] => None,
        many => Some(format!(
            "the vendor received {} requests, not one",
            many.len()
        )),
    };
    if let Some(problem) = refused {
        return result(false, false, Some(problem));
    }
    let output = match outcome {
        Ok(output) => output,
        Err(error) => {
            return result(
                true,
                false,
                Some(format!("the module failed on the answer: {error}")),
            );
        }
    };
    // What the mock answered with (mock.rs picks the same); a 204 carries
    // no body whatever the spec says.
    let json_answer = op
        .responses
        .iter()
        .filter(|r| r.is_success())
        .find(|r| !r.contents.is_empty())
        .filter(|r| r.status != "204" && r.status != "205")
        .and_then(|r| r.contents.first())
        .is_some_and(|m| m.media_type == "application/json" || m.media_type.ends_with("+json"));
    if !json_answer {
        return result(true, true, None);
    }
    let value: Value = match serde_json::from_str(&output) {
        Ok(value) => value,
        Err(e) => {
            return result(
                true,
                false,
                Some(format!("the module's output is not JSON: {e}")),
            );
        }
    };
    let schema = validate::lenient(&aip_ir::output_schema_root(op), &api.schemas);
    let problem = jsonschema::validator_for(&schema).ok().and_then(|v| {
        v.iter_errors(&value)
            .next()
            .map(|e| format!("output{}: {e}", e.instance_path))
    });
    match problem {
        Some(problem) => result(
            true,
            false,
            Some(format!(
                "the module's output does not fit the output schema: {problem}"
            )),
        ),
        None => result(true, true, None),
    }
}
