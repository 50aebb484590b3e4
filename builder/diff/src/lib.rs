//! What changed for the callers of an adapter between two versions of its
//! vendor's spec.
//!
//! The diff compares two [`aip_ir::Api`]s as the adapter's callers see
//! them: the operations they name by id and the intents the platform routes
//! to them, the input JSON the adapter checks (every parameter and body
//! field; an unknown property is refused, so removing one breaks callers
//! that send it), the output JSON, the credentials and where they go, the
//! vendor hosts (`permissions.net`), and for gRPC the protobuf wire and
//! JSON rules (field numbers, types, `json_name`, reserved names, streaming
//! kind). Each change is a [`Change`] under a stable [`Rule`] with a
//! [`Severity`]; the [`Report`] names the semantic-versioning [`Bump`].
//!
//! Like buf's breaking rules and oasdiff's checks, but judged against the
//! generated adapter's contract, for REST and gRPC alike.

mod operations;
mod proto;
mod render;
mod rules;
mod schema;

use serde::Serialize;

pub use render::{markdown, text};
pub use rules::{Bump, Rule, Severity};

/// Where a change is in one version of the spec: the document and a JSON
/// pointer into it (for protobuf: the element's full name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The spec document as it was named when read.
    pub file: String,
    /// JSON pointer (OpenAPI) or full name (protobuf).
    pub pointer: String,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.starts_with('/') || self.pointer.is_empty() {
            write!(f, "{}#{}", self.file, self.pointer)
        } else {
            write!(f, "{}: {}", self.file, self.pointer)
        }
    }
}

impl Serialize for Place {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The rule that found it.
    #[serde(serialize_with = "rule_id")]
    pub rule: Rule,
    /// Its severity (the rule's).
    pub severity: Severity,
    /// The operation it touches (`None`: the whole adapter).
    pub operation: Option<String>,
    /// Where it is in the old spec (`None`: added).
    pub old: Option<Place>,
    /// Where it is in the new spec (`None`: removed).
    pub new: Option<Place>,
    /// What changed, for a person.
    pub message: String,
    /// Other operations with the same change (one inside a named schema
    /// they share), reported once under [`Change::operation`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<String>,
    /// What makes two changes the same change (schema, path inside it,
    /// what changed); `None` for a change of one operation only.
    #[serde(skip)]
    pub(crate) shared: Option<String>,
}

fn rule_id<S: serde::Serializer>(rule: &Rule, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(rule.id())
}

/// Every change between two versions, and the bump they ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `major` if anything breaks, `minor` if anything was added, `patch`
    /// if only docs or internal detail changed, `none` if identical.
    pub bump: Bump,
    /// How many changes are breaking.
    pub breaking: usize,
    /// The changes: breaking first, then by operation and rule.
    pub changes: Vec<Change>,
}

impl Report {
    fn of(changes: Vec<Change>) -> Report {
        let mut changes = fold_shared(changes);
        changes.sort_by(|a, b| {
            (a.severity, &a.operation, a.rule, &a.message).cmp(&(
                b.severity,
                &b.operation,
                b.rule,
                &b.message,
            ))
        });
        changes.dedup();
        Report {
            bump: changes
                .iter()
                .map(|c| c.rule.bump())
                .max()
                .unwrap_or(Bump::None),
            breaking: changes
                .iter()
                .filter(|c| c.severity == Severity::Breaking)
                .count(),
            changes,
        }
    }

    /// Whether a change meets `fail_on`.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Breaking => self.breaking > 0,
            FailOn::Any => !self.changes.is_empty(),
            FailOn::None => false,
        }
    }
}

/// Folds changes that are one change inside a shared schema into the
/// first operation's, naming the others in `also_in`.
fn fold_shared(changes: Vec<Change>) -> Vec<Change> {
    let mut first: std::collections::HashMap<(Rule, String), usize> =
        std::collections::HashMap::new();
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    for change in changes {
        let Some(key) = change.shared.clone() else {
            out.push(change);
            continue;
        };
        match first.get(&(change.rule, key.clone())) {
            Some(&i) => {
                if let Some(op) = change.operation
                    && out[i].operation.as_ref() != Some(&op)
                    && !out[i].also_in.contains(&op)
                {
                    out[i].also_in.push(op);
                }
            }
            None => {
                first.insert((change.rule, key), out.len());
                out.push(change);
            }
        }
    }
    out
}

/// Which changes make `diff` exit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any breaking change.
    Breaking,
    /// Any change at all.
    Any,
    /// Never.
    None,
}

/// Compares `old` with `new`.
pub fn diff(old: &aip_ir::Api, new: &aip_ir::Api) -> Report {
    let mut changes = Changes::new(old, new);
    operations::compare(old, new, &mut changes);
    proto::compare(old, new, &mut changes);
    Report::of(changes.list)
}

/// The changes found so far, with what places are built from.
pub(crate) struct Changes {
    list: Vec<Change>,
    old_file: String,
    new_file: String,
}

impl Changes {
    fn new(old: &aip_ir::Api, new: &aip_ir::Api) -> Changes {
        Changes {
            list: Vec::new(),
            old_file: old.source.location.clone(),
            new_file: new.source.location.clone(),
        }
    }

    /// A place in the old spec.
    pub(crate) fn old_at(&self, pointer: &str) -> Place {
        Place {
            file: self.old_file.clone(),
            pointer: pointer.to_string(),
        }
    }

    /// A place in the new spec.
    pub(crate) fn new_at(&self, pointer: &str) -> Place {
        Place {
            file: self.new_file.clone(),
            pointer: pointer.to_string(),
        }
    }

    /// Records a change to operation `operation` at `old` and `new`
    /// (pointers into the old and new spec).
    pub(crate) fn between(
        &mut self,
        rule: Rule,
        operation: &str,
        old: &str,
        new: &str,
        message: String,
    ) {
        let (old, new) = (Some(self.old_at(old)), Some(self.new_at(new)));
        self.add(rule, Some(operation), old, new, message);
    }

    /// Records a change.
    pub(crate) fn add(
        &mut self,
        rule: Rule,
        operation: Option<&str>,
        old: Option<Place>,
        new: Option<Place>,
        message: String,
    ) {
        self.add_shared(rule, operation, old, new, message, None);
    }

    /// Records a change that may be the same as another operation's
    /// (`shared`: what makes it the same).
    pub(crate) fn add_shared(
        &mut self,
        rule: Rule,
        operation: Option<&str>,
        old: Option<Place>,
        new: Option<Place>,
        message: String,
        shared: Option<String>,
    ) {
        self.list.push(Change {
            rule,
            severity: rule.severity(),
            operation: operation.map(str::to_string),
            old,
            new,
            message,
            also_in: Vec::new(),
            shared,
        });
    }
}
