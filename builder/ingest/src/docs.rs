//! The set of documents a spec spans: the root plus every external file its
//! `$ref`s reach, confined to the root's folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

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
    limits: Limits,
}

/// How many `$ref` hops one lookup may take before it is called a cycle.
const MAX_REF_HOPS: usize = 64;

impl DocSet {
    /// A set holding only the root document. `path` is its file, if it has
    /// one; external references resolve inside that file's folder.
    pub fn new(
        location: String,
        path: Option<PathBuf>,
        value: Value,
        limits: Limits,
    ) -> Result<DocSet, IngestError> {
        let mut by_path = HashMap::new();
        let (path, base) = match path {
            Some(p) => {
                let canonical = p.canonicalize().map_err(|source| IngestError::Read {
                    location: location.clone(),
                    source,
                })?;
                let base = canonical.parent().map(Path::to_path_buf);
                by_path.insert(canonical.clone(), 0);
                (Some(canonical), base)
            }
            None => (None, None),
        };
        Ok(DocSet {
            docs: vec![Doc {
                location,
                path,
                value,
            }],
            by_path,
            base,
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
            return Err(IngestError::NotSupported(format!(
                "{location}#{}: external $ref {reference:?} in a spec read from a URL or stdin; save the spec and its referenced files in one folder and pass the file path",
                at.pointer
            )));
        };
        if file.contains("://") {
            return Err(IngestError::NotSupported(format!(
                "{location}#{}: $ref to a remote document {reference:?}; only files inside the spec's folder can be referenced",
                at.pointer
            )));
        }
        let decoded = pointer::percent_decode(file);
        let candidate = from.parent().unwrap_or(&base).join(&decoded);
        let canonical = candidate
            .canonicalize()
            .map_err(|e| IngestError::UnresolvedRef {
                location: location.clone(),
                pointer: at.pointer.clone(),
                reference: reference.to_string(),
                reason: format!("{}: {e}", candidate.display()),
            })?;
        if !canonical.starts_with(&base) {
            return Err(IngestError::RefEscapes {
                location,
                pointer: at.pointer.clone(),
                reference: reference.to_string(),
                base,
            });
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
        let display = canonical
            .strip_prefix(&base)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| decoded.clone());
        let bytes = source::read_file(&canonical, self.limits.max_spec_bytes)?;
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
