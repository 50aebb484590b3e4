//! One module per subcommand, each an `Opts` with a `run()`.

pub mod build;
pub mod describe;
pub mod diff;
pub mod discover;
pub mod generate;
pub mod info;
pub mod install;
pub mod invoke;
pub mod keygen;
pub mod list;
pub mod push;
pub mod regen;
pub mod search;
pub mod serve;
pub mod test;
pub mod verify;

use clap::Subcommand;

use crate::exit::CliError;

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Build a signed module from a spec: ingest, render, compile, package, sign, register.
    Build(build::Opts),
    /// Render the adapter crate for a spec without compiling it.
    Generate(generate::Opts),
    /// Verify a module's signature, digests and SBOM binding (a module
    /// folder, or a module in a registry, in place).
    Verify(verify::Opts),
    /// Push a module to an OCI registry: artifact, cosign signature, SBOM and
    /// manifest.yaml (as referrers), version tag and `latest`.
    Push(push::Opts),
    /// Install a module from an OCI registry into modules/<name>/, verified.
    Install(install::Opts),
    /// Find modules in a registry by name, description or intent.
    Search(search::Opts),
    /// Describe a module repository: versions, signatures, intents, SBOM.
    Info(info::Opts),
    /// List installed modules and their status.
    List(list::Opts),
    /// Regenerate the adapters of aip-builder.toml whose spec, templates,
    /// options or toolchain changed, choosing each next version from the
    /// diff; `--check` only says which are out of date (exit 3).
    Regen(regen::Opts),
    /// Contract-test a built module against a mock vendor derived from its
    /// spec: every operation invoked, every request checked, every answer
    /// decoded.
    Test(test::Opts),
    /// Run the build service (HTTP API, durable jobs, build queue).
    Serve(serve::Opts),
    /// Install the modules announced on NATS, verified (the consumer of
    /// the service's certified-module events).
    Discover(discover::Opts),
    /// List a module's or a spec's operations.
    Describe(describe::Opts),
    /// What changed for an adapter's callers between two versions of its
    /// spec, each change with its rule and severity, and the semver bump.
    Diff(diff::Opts),
    /// Call one operation of a module in the embedded wasmtime host.
    Invoke(invoke::Opts),
    /// Write a cosign-compatible key pair (cosign.key, cosign.pub).
    Keygen(keygen::Opts),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<(), CliError> {
        match self {
            Command::Build(opts) => opts.run(),
            Command::Generate(opts) => opts.run(),
            Command::Verify(opts) => opts.run(),
            Command::Push(opts) => opts.run(),
            Command::Install(opts) => opts.run(),
            Command::Search(opts) => opts.run(),
            Command::Info(opts) => opts.run(),
            Command::List(opts) => opts.run(),
            Command::Regen(opts) => opts.run(),
            Command::Serve(opts) => opts.run(),
            Command::Test(opts) => opts.run(),
            Command::Discover(opts) => opts.run(),
            Command::Describe(opts) => opts.run(),
            Command::Diff(opts) => opts.run(),
            Command::Invoke(opts) => opts.run(),
            Command::Keygen(opts) => opts.run(),
        }
    }
}
