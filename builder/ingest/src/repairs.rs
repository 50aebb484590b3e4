//! Repairs: defects of real specs that are safe to repair. The default
//! (lenient) mode repairs each and records a [`SpecWarning`] naming the
//! file, the JSON pointer and what was done; strict mode refuses each one
//! instead, with the same words.

use aip_ir::{SpecWarning, WarningKind};

use crate::IngestError;

/// Collects the repairs of one ingest, or refuses them in strict mode.
#[derive(Debug, Default)]
pub struct Repairs {
    strict: bool,
    warnings: Vec<SpecWarning>,
}

/// A defect found in a spec, before it is repaired or refused.
pub struct Defect<'a> {
    /// What kind of defect.
    pub kind: WarningKind,
    /// The document it is in.
    pub file: &'a str,
    /// Where in that document.
    pub pointer: &'a str,
    /// What is wrong.
    pub problem: String,
    /// What the lenient mode does about it.
    pub repair: String,
}

impl Repairs {
    /// A collector; `strict` turns every repair into an error.
    pub fn new(strict: bool) -> Repairs {
        Repairs {
            strict,
            warnings: Vec::new(),
        }
    }

    /// Repairs `defect` (recording a warning), or refuses it in strict mode.
    pub fn repair(&mut self, defect: Defect<'_>) -> Result<(), IngestError> {
        let warning = SpecWarning {
            kind: defect.kind,
            file: defect.file.to_string(),
            pointer: defect.pointer.to_string(),
            message: format!("{}; {}", defect.problem, defect.repair),
        };
        if self.strict {
            return Err(IngestError::StrictRefused {
                location: defect.file.to_string(),
                pointer: defect.pointer.to_string(),
                kind: defect.kind,
                problem: defect.problem,
                repair: defect.repair,
            });
        }
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
        Ok(())
    }

    /// The warnings recorded, in the order met.
    pub fn into_warnings(self) -> Vec<SpecWarning> {
        self.warnings
    }
}
