//! The set of documents a spec spans: the root plus every external file its
//! `$ref`s reach, confined to the reference root (see [`crate::root`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::root::{self, RefRoot};
use crate::{IngestError, Limits, parse, pointer, source};

/// Index of a document in a [`DocSet`].
pub type DocId = usize;

/// A location inside one of the documents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    /// Which document.
    pub doc: DocId,
    /// JSON pointer inside it.
    pub pointer: String,
}

struct Doc {
    location: String,
    path: Option<PathBuf>,
    value: Value,
}

/// Loaded documents and the folder external references must stay inside.
pub struct DocSet {
    docs: Vec<Doc>,
    by_path: HashMap<PathBuf, DocId>,
    base: Option<PathBuf>,
    base_label: String,
    limits: Limits,
}

/// How many `$ref` hops one lookup may take before it is called a cycle.
const MAX_REF_HOPS: usize = 64;

impl DocSet {
    /// A set holding only the root document. `path` is its file, if it has
    /// one; external references resolve inside the reference root (`root`
    /// when given, else the one [`crate::root::resolve`] finds). With an
    /// explicit root every document is named relative to it.
    pub fn new(
        location: String,
        path: Option<PathBuf>,
        value: Value,
        limits: Limits,
        root: Option<&RefRoot>,
    ) -> Result<DocSet, IngestError> {
        let mut by_path = HashMap::new();
        let (path, base, base_label, location) = match path {
            Some(p) => {
                let canonical = p.canonicalize().map_err(|source| IngestError::Read {
                    location: location.clone(),
                    source,
                })?;
                let resolved = root::resolve(&canonical, root)?;
                let location = if resolved.explicit {
                    relative(&canonical, &resolved.dir).unwrap_or(location)
                } else {
                    location
                };
                by_path.insert(canonical.clone(), 0);
                (
                    Some(canonical),
                    Some(resolved.dir),
                    resolved.label,
                    location,
                )
            }
            None => (None, None, String::new(), location),
        };
        Ok(DocSet {
            docs: vec![Doc {
                location,
                path,
                value,
            }],
            by_path,
            base,
            base_label,
            limits,
        })
    }

    /// How a document is named in messages.
    pub fn location(&self, doc: DocId) -> &str {
        &self.docs[doc].location
    }

    /// The value at `loc`, if there is one.
    pub fn get(&self, loc: &Loc) -> Option<&Value> {
        self.docs.get(loc.doc)?.value.pointer(&loc.pointer)
    }

    /// An "invalid" error at `loc`.
    pub fn invalid(&self, loc: &Loc, message: impl Into<String>) -> IngestError {
        IngestError::Invalid {
            location: self.location(loc.doc).to_string(),
            pointer: loc.pointer.clone(),
            message: message.into(),
        }
    }

    /// Resolves the `$ref` text found in the object at `at` to a location,
    /// loading the external document it names if needed.
    pub fn resolve(&mut self, at: &Loc, reference: &str) -> Result<Loc, IngestError> {
        let unresolved = |this: &DocSet, reason: String| IngestError::UnresolvedRef {
            location: this.location(at.doc).to_string(),
            pointer: at.pointer.clone(),
            reference: reference.to_string(),
            reason,
        };
        let (file, fragment) = match reference.split_once('#') {
            Some((f, frag)) => (f, frag),
            None => (reference, ""),
        };
        let fragment = pointer::percent_decode(fragment);
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return Err(unresolved(
                self,
                "only JSON-pointer fragments (#/...) are supported".into(),
            ));
        }
        let doc = if file.is_empty() {
            at.doc
        } else {
            self.load_external(at, reference, file)?
        };
        let loc = Loc {
            doc,
            pointer: fragment,
        };
        if self.get(&loc).is_none() {
            return Err(unresolved(
                self,
                format!("{} has nothing at #{}", self.location(doc), loc.pointer),
            ));
        }
        Ok(loc)
    }

    /// Follows `$ref`s starting at `loc` until a value that is not a
    /// reference. Returns where it ended. Cycles are errors.
    pub fn follow(&mut self, loc: &Loc) -> Result<Loc, IngestError> {
        let mut current = loc.clone();
        let mut chain: Vec<Loc> = vec![current.clone()];
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = self
                .get(&current)
                .and_then(|v| v.get("$ref"))
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return Ok(current);
            };
            let next = self.resolve(&current, &reference)?;
            if chain.contains(&next) {
                chain.push(next);
                return Err(self.cycle_error(loc, &chain));
            }
            chain.push(next.clone());
            current = next;
        }
        Err(self.cycle_error(loc, &chain))
    }

    /// The error for a chain of references that loops.
    pub fn cycle_error(&self, start: &Loc, chain: &[Loc]) -> IngestError {
        let chain = chain
            .iter()
            .map(|l| self.describe(l))
            .collect::<Vec<_>>()
            .join(" -> ");
        IngestError::RefCycle {
            location: self.location(start.doc).to_string(),
            pointer: start.pointer.clone(),
            chain,
        }
    }

    /// `file#pointer` for messages.
    pub fn describe(&self, loc: &Loc) -> String {
        format!("{}#{}", self.location(loc.doc), loc.pointer)
    }

    fn load_external(
        &mut self,
        at: &Loc,
        reference: &str,
        file: &str,
    ) -> Result<DocId, IngestError> {
        let location = self.location(at.doc).to_string();
        let (Some(base), Some(from)) = (self.base.clone(), self.docs[at.doc].path.clone()) else {
            return Err(IngestError::ExternalRefWithoutFiles {
                location,
                pointer: at.pointer.clone(),
                reference: reference.to_string(),
            });
        };
        if file.contains("://") {
            return Err(IngestError::NotSupported(format!(
                "{location}#{}: $ref to a remote document {reference:?}; only files inside the reference root can be referenced",
                at.pointer
            )));
        }
        let escapes = || IngestError::RefEscapes {
            location: location.clone(),
            pointer: at.pointer.clone(),
            reference: reference.to_string(),
            root: self.base_label.clone(),
        };
        // Checked by its text first: a ref that leaves the root is refused
        // before the file system is asked anything about it.
        let decoded = pointer::percent_decode(file);
        let relative_ref = Path::new(&decoded);
        if relative_ref.has_root() {
            return Err(escapes());
        }
        let candidate = root::normalize(&from.parent().unwrap_or(&base).join(relative_ref))
            .filter(|p| p.starts_with(&base))
            .ok_or_else(escapes)?;
        let display = relative(&candidate, &base).unwrap_or_else(|| decoded.clone());
        let canonical = candidate
            .canonicalize()
            .map_err(|e| IngestError::MissingRefFile {
                location: location.clone(),
                pointer: at.pointer.clone(),
                reference: reference.to_string(),
                reason: format!("{display}: {}", io_reason(&e)),
            })?;
        // A symbolic link inside the root may still point out of it.
        if !canonical.starts_with(&base) {
            return Err(escapes());
        }
        if let Some(id) = self.by_path.get(&canonical) {
            return Ok(*id);
        }
        if self.docs.len() >= self.limits.max_documents {
            return Err(self.invalid(
                at,
                format!(
                    "the spec references more than {} documents",
                    self.limits.max_documents
                ),
            ));
        }
        let display = relative(&canonical, &base).unwrap_or(display);
        let bytes =
            source::read_file(&canonical, self.limits.max_spec_bytes).map_err(|e| match e {
                IngestError::Read { source, .. } => IngestError::Read {
                    location: display.clone(),
                    source,
                },
                IngestError::TooLarge { limit, .. } => IngestError::TooLarge {
                    location: display.clone(),
                    limit,
                },
                other => other,
            })?;
        let value = parse::parse_document(&bytes, &display)?;
        let id = self.docs.len();
        self.docs.push(Doc {
            location: display,
            path: Some(canonical.clone()),
            value,
        });
        self.by_path.insert(canonical, id);
        Ok(id)
    }
}

/// `path` relative to `base`, for messages.
fn relative(path: &Path, base: &Path) -> Option<String> {
    path.strip_prefix(base)
        .ok()
        .map(|p| p.display().to_string())
}

/// An I/O error in words that do not repeat the path.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file in the reference root".into(),
        _ => e.to_string(),
    }
}
