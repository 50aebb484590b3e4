//! The embedded host: runs adapter components in wasmtime with `wasi:http`,
//! letting outgoing requests reach only the hosts a module's manifest
//! permits (plus an explicit `--server` override).
//!
//! One [`Adapter`] holds one instance and reuses it across calls, so the
//! per-call cost is a component call, not an instantiation.
//!
//! gRPC modules are run by [`service`]: their static executable as a child
//! process on a loopback port, called over `aip.adapter.v1`.

mod allow;
pub mod service;

use std::sync::Arc;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub use allow::AllowList;

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "aip:adapter/adapter-exports",
    });
}

pub use bindings::aip::adapter::types::{AdapterError, CallContext, Credential, VendorError};

/// Why the host could not run a component.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The bytes are not a component this host can compile.
    #[error("cannot load the component: {0:#}")]
    Load(wasmtime::Error),
    /// The component does not fit the `aip:adapter` world.
    #[error("cannot instantiate the component (is it an aip:adapter component?): {0:#}")]
    Instantiate(wasmtime::Error),
    /// The component trapped (a bug in the adapter, or a resource limit).
    #[error("the component trapped: {0:#}")]
    Trap(wasmtime::Error),
}

/// Limits and permissions for one adapter instance.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Hosts outgoing requests may reach.
    pub allow: AllowList,
    /// Linear memory limit in bytes.
    pub max_memory_bytes: usize,
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: allow::AllowHooks,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A compiled component, ready to instantiate (possibly many times).
#[derive(Clone)]
pub struct LoadedComponent {
    engine: Engine,
    component: Component,
    linker: Arc<Linker<State>>,
}

impl LoadedComponent {
    /// Compiles component bytes.
    pub fn new(wasm: &[u8]) -> Result<LoadedComponent, HostError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(HostError::Load)?;
        let component = Component::new(&engine, wasm).map_err(HostError::Load)?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(HostError::Load)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(HostError::Load)?;
        Ok(LoadedComponent {
            engine,
            component,
            linker: Arc::new(linker),
        })
    }

    /// The names of the component's imports and exports, sorted.
    pub fn interface(&self) -> (Vec<String>, Vec<String>) {
        let ty = self.component.component_type();
        let mut imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let mut exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        imports.sort();
        exports.sort();
        (imports, exports)
    }

    /// Instantiates the component with these permissions.
    pub fn instantiate(&self, opts: &HostOptions) -> Result<Adapter, HostError> {
        let state = State {
            wasi: WasiCtxBuilder::new().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            hooks: allow::AllowHooks::new(opts.allow.clone()),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(opts.max_memory_bytes)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let exports =
            bindings::AdapterExports::instantiate(&mut store, &self.component, &self.linker)
                .map_err(HostError::Instantiate)?;
        Ok(Adapter { store, exports })
    }
}

/// A live adapter instance.
pub struct Adapter {
    store: Store<State>,
    exports: bindings::AdapterExports,
}

impl Adapter {
    /// Calls `describe()`.
    pub fn describe(&mut self) -> Result<String, HostError> {
        self.exports
            .call_describe(&mut self.store)
            .map_err(HostError::Trap)
    }

    /// Calls `invoke()`. The outer error is the host's, the inner the adapter's.
    pub fn invoke(
        &mut self,
        operation: &str,
        input_json: &str,
        ctx: &CallContext,
    ) -> Result<Result<String, AdapterError>, HostError> {
        self.exports
            .call_invoke(&mut self.store, operation, input_json, ctx)
            .map_err(HostError::Trap)
    }
}

/// A one-line human description of an adapter error.
pub fn describe_adapter_error(error: &AdapterError) -> String {
    match error {
        AdapterError::UnknownOperation(m) => format!("unknown operation: {m}"),
        AdapterError::InvalidInput(m) => format!("invalid input: {m}"),
        AdapterError::MissingCredential(m) => format!("missing credential: {m}"),
        AdapterError::Vendor(v) => format!(
            "vendor answered HTTP {}: {}",
            v.status,
            truncate(&v.body, 2000)
        ),
        AdapterError::Transport(m) => format!("transport failure: {m}"),
    }
}

/// The error's kind as a stable machine-readable name.
pub fn adapter_error_kind(error: &AdapterError) -> &'static str {
    match error {
        AdapterError::UnknownOperation(_) => "unknown-operation",
        AdapterError::InvalidInput(_) => "invalid-input",
        AdapterError::MissingCredential(_) => "missing-credential",
        AdapterError::Vendor(_) => "vendor",
        AdapterError::Transport(_) => "transport",
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((idx, _)) => &text[..idx],
        None => text,
    }
}
