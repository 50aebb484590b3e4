//! Hints as data.
//!
//! A stage's error says what went wrong; a [`Hint`] says what the user could
//! do about it, without naming how. The CLI renders a hint with its flags,
//! the HTTP API with its request fields, the console with its controls; no
//! front end ever shows another's terms. Every stage's error enum offers
//! `fn hint(&self) -> Option<Hint>`.

/// What a user could do about an error. Stored as data (a job's failure
/// keeps its hint) tagged by [`Hint::code`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Hint {
    /// Strict mode refused a defect that the default (lenient) mode repairs
    /// and reports as a warning.
    StrictRefusedRepair {
        /// What the lenient mode would have done.
        repair: String,
    },
    /// An external `$ref` leaves the folder references must stay in.
    WidenRefRoot {
        /// The folder references are confined to.
        root: String,
    },
    /// External `$ref`s in a spec that was not read from a file.
    ExternalRefsNeedFiles,
    /// An external `$ref` names a file that is not there.
    MissingReferencedFile,
    /// A document is larger than the configured size limit.
    RaiseSpecSizeLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// A spec defines more operations than the configured limit.
    RaiseOperationLimit {
        /// The limit.
        limit: usize,
    },
    /// A `.proto` input's imports could not be found.
    AddProtoImportRoot,
    /// The failure is a bug in aip-builder; the spec reproduces it.
    ReportBug,
}

impl Hint {
    /// A stable name for the hint, for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            Hint::StrictRefusedRepair { .. } => "strict-refused-repair",
            Hint::WidenRefRoot { .. } => "widen-ref-root",
            Hint::ExternalRefsNeedFiles => "external-refs-need-files",
            Hint::MissingReferencedFile => "missing-referenced-file",
            Hint::RaiseSpecSizeLimit { .. } => "raise-spec-size-limit",
            Hint::RaiseOperationLimit { .. } => "raise-operation-limit",
            Hint::AddProtoImportRoot => "add-proto-import-root",
            Hint::ReportBug => "report-bug",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Hint;

    #[test]
    fn stored_hints_are_tagged_by_their_code_and_read_back() {
        let hints = [
            Hint::StrictRefusedRepair {
                repair: "renamed".into(),
            },
            Hint::WidenRefRoot { root: "/a".into() },
            Hint::ExternalRefsNeedFiles,
            Hint::MissingReferencedFile,
            Hint::RaiseSpecSizeLimit { limit: 7 },
            Hint::RaiseOperationLimit { limit: 9 },
            Hint::AddProtoImportRoot,
            Hint::ReportBug,
        ];
        for hint in hints {
            let stored = serde_json::to_value(&hint).expect("serialize");
            assert_eq!(stored["code"], hint.code(), "{stored}");
            let back: Hint = serde_json::from_value(stored).expect("deserialize");
            assert_eq!(back, hint);
        }
    }
}
