//! The aip-builder gRPC service runtime: everything a generated gRPC
//! microservice does that does not depend on the vendor API. A generated
//! service is an operation table and a `main` that calls [`run`]; this crate
//! is compiled once per dependency set and shared by every service build.
//! Copied verbatim into every generated service (`runtime/`).

mod config;
mod errors;
mod grpc_vendor;
mod proto;
mod rest;
#[allow(dead_code)]
pub mod runtime;
mod server;
mod service;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use runtime::spec::{Operation, Scheme};

/// What a generated service knows about its vendor API.
pub struct Adapter {
    /// The module name.
    pub module: &'static str,
    /// `Describe`'s answer.
    pub describe_json: &'static str,
    /// The spec's default server URL, if absolute.
    pub default_server: Option<&'static str>,
    /// Security schemes by name.
    pub schemes: &'static [Scheme],
    /// The operation with an id.
    pub find: fn(&str) -> Option<&'static Operation>,
    /// gRPC vendors: the encoded descriptor set of the vendor's protos.
    pub vendor_descriptor_set: Option<&'static [u8]>,
}

/// Reads the configuration from the environment and serves until SIGTERM.
/// Exit codes: 0 after a clean shutdown, 1 when serving failed, 2 for bad
/// configuration.
pub fn run(adapter: &'static Adapter) -> ExitCode {
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    config::init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::serve(adapter, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server stopped");
            ExitCode::FAILURE
        }
    }
}
