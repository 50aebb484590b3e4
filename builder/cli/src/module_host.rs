//! Running a registered module in the embedded host.

use aip_host::{Adapter, AllowList, HostOptions, LoadedComponent};
use aip_register::OpenedModule;

use crate::exit::{CliError, internal};

/// Memory limit when a manifest's `resources.memory` does not parse.
const DEFAULT_MEMORY_BYTES: usize = 128 << 20;

/// Compiles and instantiates `module`'s component with `allow` as its
/// outbound allow-list and the manifest's memory limit.
pub fn instantiate(module: &OpenedModule, allow: AllowList) -> Result<Adapter, CliError> {
    let loaded = LoadedComponent::new(&module.payload).map_err(internal)?;
    loaded
        .instantiate(&HostOptions {
            allow,
            max_memory_bytes: module
                .manifest
                .resources
                .memory_bytes()
                .unwrap_or(DEFAULT_MEMORY_BYTES),
        })
        .map_err(internal)
}
