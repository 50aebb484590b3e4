//! Lowering spec schemas (OpenAPI 3.0 / 3.1 / Swagger 2.0 dialects) into
//! JSON Schema 2020-12 values whose references all point into `$defs`.
//!
//! Every `$ref` target becomes a named definition, so recursive schemas stay
//! finite. Named components keep their names; other targets get a name
//! derived from their location.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::docs::{DocSet, Loc};
use crate::repairs::{Defect, Repairs};
use crate::{IngestError, pointer};

/// Dialect details that change how a schema is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0: `x-nullable`, `type: file`.
    Swagger2,
    /// OpenAPI 3.0: `nullable`, boolean `exclusiveMinimum`.
    OpenApi30,
    /// OpenAPI 3.1: plain JSON Schema 2020-12.
    OpenApi31,
}

/// Keywords whose value is one subschema.
const SINGLE: &[&str] = &[
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
];
/// Keywords whose value is an array of subschemas.
const ARRAY: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is a map of subschemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// Deepest schema nesting followed before giving up.
const MAX_DEPTH: usize = 256;

/// Lowers schemas and collects the named definitions they reference.
pub struct SchemaLowerer {
    dialect: Dialect,
    /// Repairs made (or refused) while lowering, shared with the rest of
    /// the ingest.
    pub repairs: Repairs,
    defs: BTreeMap<String, Value>,
    names: HashMap<Loc, String>,
    pending: Vec<(Loc, String)>,
}

impl SchemaLowerer {
    /// A lowerer for one spec dialect.
    pub fn new(dialect: Dialect, repairs: Repairs) -> SchemaLowerer {
        SchemaLowerer {
            dialect,
            repairs,
            defs: BTreeMap::new(),
            names: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Lowers the schema at `loc`.
    pub fn lower_at(&mut self, docs: &mut DocSet, loc: &Loc) -> Result<Value, IngestError> {
        let value = docs.get(loc).cloned().unwrap_or(Value::Bool(true));
        self.lower(docs, loc, &value, 0)
    }

    /// Lowers every definition referenced so far (and those they reference)
    /// and returns them by name. Pure reference cycles are errors.
    /// Also returns the repairs collected while lowering.
    pub fn finish(
        mut self,
        docs: &mut DocSet,
    ) -> Result<(BTreeMap<String, Value>, Repairs), IngestError> {
        while let Some((loc, name)) = self.pending.pop() {
            let lowered = self.lower_at(docs, &loc)?;
            self.defs.insert(name, lowered);
        }
        self.check_pure_ref_cycles(docs)?;
        Ok((self.defs, self.repairs))
    }

    fn lower(
        &mut self,
        docs: &mut DocSet,
        loc: &Loc,
        value: &Value,
        depth: usize,
    ) -> Result<Value, IngestError> {
        if depth > MAX_DEPTH {
            return Err(docs.invalid(loc, format!("schema nested deeper than {MAX_DEPTH} levels")));
        }
        let Value::Object(obj) = value else {
            // Boolean schemas (3.1) pass through; anything else is not a schema.
            return match value {
                Value::Bool(_) => Ok(value.clone()),
                _ => Err(docs.invalid(
                    loc,
                    format!("expected a schema object, found {}", kind(value)),
                )),
            };
        };
        let mut out = Map::new();
        for (key, v) in obj {
            let child = Loc {
                doc: loc.doc,
                pointer: pointer::push(&loc.pointer, key),
            };
            match key.as_str() {
                "$ref" => {
                    let Some(reference) = v.as_str() else {
                        return Err(docs.invalid(&child, "$ref must be a string"));
                    };
                    let target = match docs.resolve(loc, reference) {
                        Ok(target) => target,
                        Err(IngestError::UnresolvedRef {
                            location,
                            pointer,
                            reference,
                            reason,
                        }) => {
                            self.repairs.repair(Defect {
                                kind: aip_ir::WarningKind::DanglingRef,
                                file: &location,
                                pointer: &pointer,
                                problem: format!(
                                    "$ref {reference:?} resolves to nothing ({reason})"
                                ),
                                repair: "the schema is read as \"any value\"".into(),
                            })?;
                            continue;
                        }
                        Err(other) => return Err(other),
                    };
                    let name = self.def_name(docs, &target);
                    out.insert("$ref".into(), Value::String(aip_ir::def_ref(&name)));
                }
                k if SINGLE.contains(&k) => {
                    let lowered = match v {
                        // Swagger/3.0 `items` may (wrongly, but commonly) be an array.
                        Value::Array(items) => {
                            Value::Array(self.lower_list(docs, &child, items, depth)?)
                        }
                        _ => self.lower(docs, &child, v, depth + 1)?,
                    };
                    out.insert(key.clone(), lowered);
                }
                k if ARRAY.contains(&k) => {
                    let Value::Array(items) = v else {
                        return Err(
                            docs.invalid(&child, format!("{k} must be an array of schemas"))
                        );
                    };
                    out.insert(
                        key.clone(),
                        Value::Array(self.lower_list(docs, &child, items, depth)?),
                    );
                }
                k if MAP.contains(&k) => {
                    let Value::Object(entries) = v else {
                        return Err(docs.invalid(&child, format!("{k} must be a map of schemas")));
                    };
                    let mut lowered = Map::new();
                    for (name, schema) in entries {
                        let entry = Loc {
                            doc: loc.doc,
                            pointer: pointer::push(&child.pointer, name),
                        };
                        lowered.insert(name.clone(), self.lower(docs, &entry, schema, depth + 1)?);
                    }
                    out.insert(key.clone(), Value::Object(lowered));
                }
                _ => {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
        Ok(self.normalise(out))
    }

    fn lower_list(
        &mut self,
        docs: &mut DocSet,
        at: &Loc,
        items: &[Value],
        depth: usize,
    ) -> Result<Vec<Value>, IngestError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let loc = Loc {
                    doc: at.doc,
                    pointer: format!("{}/{i}", at.pointer),
                };
                self.lower(docs, &loc, item, depth + 1)
            })
            .collect()
    }

    /// Rewrites dialect-specific keywords into JSON Schema 2020-12.
    fn normalise(&self, mut obj: Map<String, Value>) -> Value {
        if self.dialect == Dialect::Swagger2
            && obj.get("type").and_then(Value::as_str) == Some("file")
        {
            obj.insert("type".into(), json!("string"));
            obj.insert("format".into(), json!("binary"));
        }
        if self.dialect != Dialect::OpenApi31 {
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(exclusive)) = obj.get(flag).cloned() {
                    obj.remove(flag);
                    if exclusive && let Some(limit) = obj.remove(bound) {
                        obj.insert(flag.into(), limit);
                    }
                }
            }
        }
        let nullable_key = match self.dialect {
            Dialect::Swagger2 => "x-nullable",
            Dialect::OpenApi30 => "nullable",
            Dialect::OpenApi31 => "",
        };
        let nullable = !nullable_key.is_empty()
            && obj.remove(nullable_key).and_then(|v| v.as_bool()) == Some(true);
        if !nullable {
            return Value::Object(obj);
        }
        match obj.get("type").cloned() {
            Some(Value::String(t)) => {
                obj.insert("type".into(), json!([t, "null"]));
                if let Some(Value::Array(values)) = obj.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
                Value::Object(obj)
            }
            _ => json!({ "anyOf": [Value::Object(obj), { "type": "null" }] }),
        }
    }

    /// The definition name for a reference target, registering it for
    /// lowering the first time it is seen.
    fn def_name(&mut self, docs: &DocSet, target: &Loc) -> String {
        if let Some(name) = self.names.get(target) {
            return name.clone();
        }
        let tokens = pointer::tokens(&target.pointer);
        let base = match tokens.as_slice() {
            [c, s, name] if c == "components" && s == "schemas" => name.clone(),
            [d, name] if d == "definitions" => name.clone(),
            [] => file_stem(docs.location(target.doc)),
            other => other.join("."),
        };
        let mut name = base.clone();
        let mut n = 2;
        while self.names.values().any(|taken| *taken == name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(target.clone(), name.clone());
        self.pending.push((target.clone(), name.clone()));
        name
    }

    /// A definition that is only a `$ref` to a definition that is only a
    /// `$ref` ... back to itself describes no value at all.
    fn check_pure_ref_cycles(&self, docs: &DocSet) -> Result<(), IngestError> {
        let target_of = |name: &str| -> Option<String> {
            let Value::Object(obj) = self.defs.get(name)? else {
                return None;
            };
            if obj.len() != 1 {
                return None;
            }
            let r = obj.get("$ref")?.as_str()?;
            aip_ir::def_name(r)
        };
        for start in self.defs.keys() {
            let mut chain = vec![start.clone()];
            let mut current = start.clone();
            while let Some(next) = target_of(&current) {
                if chain.contains(&next) {
                    chain.push(next);
                    let locs: Vec<Loc> = chain
                        .iter()
                        .filter_map(|n| {
                            self.names
                                .iter()
                                .find(|(_, v)| *v == n)
                                .map(|(l, _)| l.clone())
                        })
                        .collect();
                    let first = locs.first().cloned().unwrap_or(Loc {
                        doc: 0,
                        pointer: String::new(),
                    });
                    return Err(docs.cycle_error(&first, &locs));
                }
                chain.push(next.clone());
                current = next;
            }
        }
        Ok(())
    }
}

fn file_stem(location: &str) -> String {
    let file = location.rsplit(['/', '\\']).next().unwrap_or(location);
    file.split('.').next().unwrap_or(file).to_string()
}

/// A value's JSON type name, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl SchemaLowerer {
    /// Lowers a schema value built by the caller; `loc` is where its
    /// references resolve from and where errors point.
    pub fn lower_value(
        &mut self,
        docs: &mut DocSet,
        loc: &Loc,
        value: &Value,
    ) -> Result<Value, IngestError> {
        self.lower(docs, loc, value, 0)
    }
}
