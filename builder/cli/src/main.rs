//! `aip-builder`: turns vendor API specs into signed AIP adapter modules.

mod commands;
mod exit;
mod hints;
mod module_host;
mod password;
mod progress;
mod registry_args;
mod service_config;
mod spec_args;

use clap::Parser;

/// `println!` that ends the process quietly when stdout is closed (e.g. `| head`)
/// instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            std::process::exit(if e.kind() == std::io::ErrorKind::BrokenPipe { 0 } else { 2 });
        }
    }};
}

use exit::CliError;

/// Turn a vendor REST spec into a signed, SBOM-carrying AIP adapter module.
#[derive(Parser)]
#[command(name = "aip-builder", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Bad arguments are user errors (exit 1), like a bad spec; clap's own
    // default would be 2, which here means an internal failure.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let code = match cli.command.run() {
        Ok(()) => 0,
        Err(CliError { kind, error }) => {
            eprintln!("error: {error}");
            kind.code()
        }
    };
    std::process::exit(code);
}
