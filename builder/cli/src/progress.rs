//! Progress output: one line per pipeline stage on stderr, and machine-readable
//! results on stdout with `--format json`.

use std::io::IsTerminal;
use std::time::Instant;

use clap::ValueEnum;

/// Output format of a command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Reports stage progress to stderr.
pub struct Progress {
    started: Instant,
    stage_started: Instant,
    verbose_tool_output: bool,
    quiet: bool,
}

impl Progress {
    /// A reporter; quiet when `format` is JSON and stderr is not a terminal.
    pub fn new(format: Format) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            started: Instant::now(),
            stage_started: Instant::now(),
            verbose_tool_output: std::env::var_os("AIP_VERBOSE").is_some(),
            quiet: format == Format::Json && !terminal,
        }
    }

    /// A stage begins.
    pub fn stage(&mut self, name: &str, detail: &str) {
        self.stage_started = Instant::now();
        if !self.quiet {
            eprintln!("==> {name:<9} {detail}");
        }
    }

    /// A note within the current stage.
    pub fn note(&mut self, text: &str) {
        if !self.quiet {
            eprintln!("    {text}");
        }
    }

    /// A warning (always shown).
    pub fn warn(&mut self, text: &str) {
        eprintln!("warning: {text}");
    }

    /// Something the ingest repaired in the spec (always shown).
    pub fn spec_warning(&mut self, warning: &aip_ir::SpecWarning) {
        eprintln!("warning: {warning} [{}]", warning.kind.as_str());
    }

    /// A line of tool output (cargo, rustup). Shown when it is a notice
    /// of ours or a compiler error/warning header, or with `AIP_VERBOSE`.
    pub fn tool_line(&mut self, line: &str) {
        if self.quiet {
            return;
        }
        let trimmed = line.trim_start();
        let interesting = trimmed.starts_with("provisioning:")
            || trimmed.starts_with("compile cache hit")
            || trimmed.starts_with("error")
            || trimmed.starts_with("Compiling aip-adapter")
            || trimmed.starts_with("Finished");
        if self.verbose_tool_output || interesting {
            eprintln!("    {trimmed}");
        }
    }

    /// Seconds since the current stage began.
    pub fn stage_secs(&self) -> f64 {
        self.stage_started.elapsed().as_secs_f64()
    }

    /// Seconds since the command began.
    pub fn total_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
