//! Exit codes: 0 success, 1 user error (bad spec, bad arguments, failed
//! verification), 2 internal or build failure, 3 a gate the user set
//! failed (`diff --fail-on`).

/// Which side a failure is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was wrong: exit code 1.
    User,
    /// aip-builder or its environment failed: exit code 2.
    Internal,
    /// The command worked and found what the user asked it to fail on
    /// (`diff --fail-on`): exit code 3.
    Gate,
}

impl ErrorKind {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::User => 1,
            ErrorKind::Internal => 2,
            ErrorKind::Gate => 3,
        }
    }
}

/// An error on its way to the process exit.
#[derive(Debug)]
pub struct CliError {
    /// Exit code class.
    pub kind: ErrorKind,
    /// The error with its context chain.
    pub error: anyhow::Error,
}

/// Marks an error as the user's.
pub fn user(error: impl Into<anyhow::Error>) -> CliError {
    CliError {
        kind: ErrorKind::User,
        error: error.into(),
    }
}

/// A gate the user set failed (exit 3).
pub fn gate(error: impl Into<anyhow::Error>) -> CliError {
    CliError {
        kind: ErrorKind::Gate,
        error: error.into(),
    }
}

/// Marks an error as aip-builder's.
pub fn internal(error: impl Into<anyhow::Error>) -> CliError {
    CliError {
        kind: ErrorKind::Internal,
        error: error.into(),
    }
}

impl CliError {
    /// Adds a `note:` line after the error.
    pub fn note(self, note: impl std::fmt::Display) -> CliError {
        CliError {
            kind: self.kind,
            error: anyhow::anyhow!("{:#}\nnote: {note}", self.error),
        }
    }
}

/// A user error with its hint, if it has one, rendered in the CLI's terms.
pub fn user_hinted(error: impl Into<anyhow::Error>, hint: Option<aip_hint::Hint>) -> CliError {
    let error = error.into();
    CliError {
        kind: ErrorKind::User,
        error: match hint {
            Some(hint) => anyhow::anyhow!("{error:#}\nhint: {}", crate::hints::render(&hint)),
            None => error,
        },
    }
}

/// A spec that did not ingest: the user's error, with its hint.
pub fn ingest_error(error: aip_ingest::IngestError) -> CliError {
    let hint = error.hint();
    user_hinted(error, hint)
}

/// A failed build: the user's error (with its hint) or aip-builder's.
pub fn pipeline_error(error: aip_pipeline::PipelineError) -> CliError {
    if error.is_user_error() {
        let hint = error.hint();
        user_hinted(error, hint)
    } else {
        internal(error)
    }
}

/// Refuses an output folder that exists as something else (a file), before
/// any work is done.
pub fn check_out_folder(path: &std::path::Path, flag: &str) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err(user(anyhow::anyhow!(
            "{flag} {} is not a folder; give a folder (it is created if missing)",
            path.display()
        ))),
        _ => Ok(()),
    }
}
