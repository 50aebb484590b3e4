//! One module per subcommand, each an `Opts` with a `run()`.

pub mod generate;

use clap::Subcommand;

use crate::exit::CliError;

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Render the adapter crate for a spec (no compile).
    Generate(generate::Opts),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<(), CliError> {
        match self {
            Command::Generate(opts) => opts.run(),
        }
    }
}
