//! Input and output JSON Schemas compared as the adapter's callers use
//! them: what a caller may send (input: narrowing breaks) and what it may
//! receive (output: widening breaks). Named schemas (`#/$defs/...`) are
//! followed on both sides; a pair of them is compared once per walk, so
//! recursive schemas end.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::Value;

use crate::{Changes, Rule};

/// Which way values flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The caller sends it to the adapter.
    Input,
    /// The adapter returns it to the caller.
    Output,
}

/// One version's schema of an operation's input or output.
pub(crate) struct Side<'a> {
    /// The API's named schemas.
    pub defs: &'a BTreeMap<String, Value>,
    /// The root schema.
    pub root: Value,
    /// The operation's place in its spec.
    pub pointer: String,
}

/// Compares `old` and `new` in direction `dir` for operation `op`.
pub(crate) fn compare(dir: Direction, old: Side, new: Side, op: &str, changes: &mut Changes) {
    let mut walk = Walk {
        dir,
        old_defs: old.defs,
        new_defs: new.defs,
        seen: HashSet::new(),
        op,
        old_pointer: &old.pointer,
        new_pointer: &new.pointer,
        changes,
        within: None,
    };
    walk.node(&old.root, &new.root, "");
}

/// How many `$ref` hops a lookup follows.
const MAX_HOPS: usize = 32;

struct Walk<'a, 'c> {
    dir: Direction,
    old_defs: &'a BTreeMap<String, Value>,
    new_defs: &'a BTreeMap<String, Value>,
    seen: HashSet<(String, String)>,
    op: &'a str,
    old_pointer: &'a str,
    new_pointer: &'a str,
    changes: &'c mut Changes,
    /// The named schema being compared (new side's name, else old's) and
    /// the path where it was entered: a change inside a schema many
    /// operations share is one change, reported once.
    within: Option<(String, String)>,
}

/// `schema` with `$ref`s followed, and the last named schema passed.
fn resolve<'v>(
    defs: &'v BTreeMap<String, Value>,
    schema: &'v Value,
) -> (&'v Value, Option<String>) {
    aip_ir::resolve_def(defs, schema)
}

/// A schema reduced to what the comparison reads.
#[derive(Default)]
struct Shape<'v> {
    types: BTreeSet<String>,
    properties: BTreeMap<String, &'v Value>,
    required: BTreeSet<String>,
    items: Option<&'v Value>,
    additional: Option<&'v Value>,
    enumeration: Option<Vec<&'v Value>>,
    format: Option<&'v str>,
    variants: Vec<&'v Value>,
    description: Option<&'v str>,
    default: Option<&'v Value>,
    constraints: BTreeMap<&'static str, &'v Value>,
}

/// Bounds where a larger value accepts more.
const UPPER: [&str; 5] = [
    "maxLength",
    "maximum",
    "exclusiveMaximum",
    "maxItems",
    "maxProperties",
];
/// Bounds where a smaller value accepts more.
const LOWER: [&str; 5] = [
    "minLength",
    "minimum",
    "exclusiveMinimum",
    "minItems",
    "minProperties",
];

impl<'v> Shape<'v> {
    fn of(defs: &'v BTreeMap<String, Value>, schema: &'v Value) -> Shape<'v> {
        let mut shape = Shape::default();
        shape.absorb(defs, schema, 0);
        if shape.types.is_empty() {
            if !shape.properties.is_empty() {
                shape.types.insert("object".into());
            } else if shape.items.is_some() {
                shape.types.insert("array".into());
            }
        }
        shape
    }

    fn absorb(&mut self, defs: &'v BTreeMap<String, Value>, schema: &'v Value, depth: usize) {
        let (schema, _) = resolve(defs, schema);
        let Some(obj) = schema.as_object() else {
            return;
        };
        match obj.get("type") {
            Some(Value::String(t)) => {
                self.types.insert(t.clone());
            }
            Some(Value::Array(ts)) => {
                self.types
                    .extend(ts.iter().filter_map(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
        if obj.get("nullable") == Some(&Value::Bool(true)) {
            self.types.insert("null".into());
        }
        if let Some(Value::Object(props)) = obj.get("properties") {
            for (name, schema) in props {
                self.properties.entry(name.clone()).or_insert(schema);
            }
        }
        if let Some(Value::Array(required)) = obj.get("required") {
            self.required.extend(
                required
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            );
        }
        self.items = self.items.or(obj.get("items"));
        self.additional = self.additional.or(obj.get("additionalProperties"));
        if let Some(Value::Array(values)) = obj.get("enum") {
            self.enumeration = Some(values.iter().collect());
        } else if let Some(value) = obj.get("const") {
            self.enumeration = Some(vec![value]);
        }
        self.format = self.format.or(obj.get("format").and_then(Value::as_str));
        self.description = self
            .description
            .or(obj.get("description").and_then(Value::as_str));
        self.default = self.default.or(obj.get("default"));
        for key in UPPER
            .into_iter()
            .chain(LOWER)
            .chain(["pattern", "multipleOf"])
        {
            if let Some(value) = obj.get(key) {
                self.constraints.entry(key).or_insert(value);
            }
        }
        if depth < MAX_HOPS
            && let Some(Value::Array(all)) = obj.get("allOf")
        {
            for member in all {
                self.absorb(defs, member, depth + 1);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = obj.get(key) {
                let (nulls, others): (Vec<&Value>, Vec<&Value>) = options
                    .iter()
                    .partition(|o| o.get("type") == Some(&Value::String("null".into())));
                if !nulls.is_empty() {
                    self.types.insert("null".into());
                }
                match others.as_slice() {
                    // `X or null`: X itself, nullable.
                    [only] if depth < MAX_HOPS => self.absorb(defs, only, depth + 1),
                    _ => self.variants.extend(others),
                }
            }
        }
    }
}

/// Whether every type in `narrow` is accepted by `wide` (empty: any type;
/// an integer is a number).
fn types_within(narrow: &BTreeSet<String>, wide: &BTreeSet<String>) -> bool {
    if wide.is_empty() {
        return true;
    }
    if narrow.is_empty() {
        return false;
    }
    narrow
        .iter()
        .all(|t| wide.contains(t) || (t == "integer" && wide.contains("number")))
}

fn show_types(types: &BTreeSet<String>) -> String {
    if types.is_empty() {
        "any".into()
    } else {
        types.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Walk<'_, '_> {
    fn add(&mut self, rule: Rule, path: &str, what: String) {
        let side = match self.dir {
            Direction::Input => "input",
            Direction::Output => "output",
        };
        let subject = if path.is_empty() {
            format!("the {side}")
        } else {
            format!("{side} {path}")
        };
        let (old, new) = (
            Some(self.changes.old_at(self.old_pointer)),
            Some(self.changes.new_at(self.new_pointer)),
        );
        let shared = self.within.as_ref().map(|(schema, entered)| {
            let inside = path.strip_prefix(entered.as_str()).unwrap_or(path);
            format!("{side}|{schema}|{inside}|{what}")
        });
        self.changes.add_shared(
            rule,
            Some(self.op),
            old,
            new,
            format!("{subject}: {what}"),
            shared,
        );
    }

    fn pick(&self, input: Rule, output: Rule) -> Rule {
        match self.dir {
            Direction::Input => input,
            Direction::Output => output,
        }
    }

    fn node(&mut self, old: &Value, new: &Value, path: &str) {
        let (old_r, old_name) = resolve(self.old_defs, old);
        let (new_r, new_name) = resolve(self.new_defs, new);
        let entered = new_name.clone().or_else(|| old_name.clone());
        if old_name.is_some() || new_name.is_some() {
            let pair = (old_name.unwrap_or_default(), new_name.unwrap_or_default());
            if !self.seen.insert(pair) {
                return;
            }
        }
        let outer = match entered {
            Some(schema) => self.within.replace((schema, path.to_string())),
            None => self.within.clone(),
        };
        self.compare_resolved(old_r, new_r, path);
        self.within = outer;
    }

    fn compare_resolved(&mut self, old_r: &Value, new_r: &Value, path: &str) {
        let (old_defs, new_defs) = (self.old_defs, self.new_defs);
        let a = Shape::of(old_defs, old_r);
        let b = Shape::of(new_defs, new_r);
        self.types(&a, &b, path);
        self.enumeration(&a, &b, path);
        self.format(&a, &b, path);
        self.constraints(&a, &b, path);
        if a.description != b.description && !path.is_empty() {
            self.add(Rule::DescriptionChanged, path, "description changed".into());
        }
        if self.dir == Direction::Input && a.default != b.default && a.default.is_some() {
            self.add(
                Rule::InputDefaultChanged,
                path,
                format!(
                    "default is now {} (was {})",
                    show(b.default),
                    show(a.default)
                ),
            );
        }
        self.properties(&a, &b, path);
        if let (Some(x), Some(y)) = (a.items, b.items) {
            self.node(x, y, &format!("{path}[]"));
        }
        self.additional(&a, &b, path);
        self.variants(&a, &b, path);
    }

    fn types(&mut self, a: &Shape, b: &Shape, path: &str) {
        if a.types == b.types {
            return;
        }
        let what = format!(
            "type is now {} (was {})",
            show_types(&b.types),
            show_types(&a.types)
        );
        let rule = match self.dir {
            Direction::Input if types_within(&a.types, &b.types) => Rule::InputTypeWidened,
            Direction::Input => Rule::InputTypeChanged,
            Direction::Output if types_within(&b.types, &a.types) => Rule::OutputTypeNarrowed,
            Direction::Output => Rule::OutputTypeChanged,
        };
        self.add(rule, path, what);
    }

    fn enumeration(&mut self, a: &Shape, b: &Shape, path: &str) {
        match (&a.enumeration, &b.enumeration) {
            (Some(was), Some(now)) => {
                let removed: Vec<String> = was
                    .iter()
                    .filter(|v| !now.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                let added: Vec<String> = now
                    .iter()
                    .filter(|v| !was.contains(v))
                    .map(|v| v.to_string())
                    .collect();
                if !removed.is_empty() {
                    let rule = self.pick(Rule::InputEnumValueRemoved, Rule::OutputEnumValueRemoved);
                    self.add(rule, path, format!("enum lost {}", removed.join(", ")));
                }
                if !added.is_empty() {
                    let rule = self.pick(Rule::InputEnumValueAdded, Rule::OutputEnumValueAdded);
                    self.add(rule, path, format!("enum gained {}", added.join(", ")));
                }
            }
            (None, Some(now)) if self.dir == Direction::Input => {
                let values: Vec<String> = now.iter().map(|v| v.to_string()).collect();
                self.add(
                    Rule::InputEnumAdded,
                    path,
                    format!("now one of {}", values.join(", ")),
                );
            }
            (Some(_), None) if self.dir == Direction::Input => {
                self.add(
                    Rule::InputConstraintLoosened,
                    path,
                    "no longer restricted to an enum".into(),
                );
            }
            (None, Some(_)) => {
                self.add(
                    Rule::OutputTypeNarrowed,
                    path,
                    "now restricted to an enum".into(),
                );
            }
            (Some(_), None) => {
                self.add(
                    Rule::OutputTypeChanged,
                    path,
                    "no longer restricted to an enum".into(),
                );
            }
            (None, None) => {}
        }
    }

    fn format(&mut self, a: &Shape, b: &Shape, path: &str) {
        if a.format == b.format {
            return;
        }
        let what = format!(
            "format is now {} (was {})",
            b.format.unwrap_or("none"),
            a.format.unwrap_or("none")
        );
        let rule = match (self.dir, a.format, b.format) {
            (Direction::Input, Some(_), None) => Rule::InputConstraintLoosened,
            (Direction::Input, _, _) => Rule::InputFormatChanged,
            (Direction::Output, None, Some(_)) => Rule::OutputTypeNarrowed,
            (Direction::Output, _, _) => Rule::OutputFormatChanged,
        };
        self.add(rule, path, what);
    }

    fn constraints(&mut self, a: &Shape, b: &Shape, path: &str) {
        let keys: BTreeSet<&&str> = a.constraints.keys().chain(b.constraints.keys()).collect();
        for key in keys {
            let (was, now) = (a.constraints.get(*key), b.constraints.get(*key));
            if was == now {
                continue;
            }
            let number = |v: Option<&&Value>| v.and_then(|v| v.as_f64());
            let tighter = match (*key, was, now) {
                (_, None, Some(_)) => true,
                (_, Some(_), None) => false,
                (k, _, _) if UPPER.contains(&k) => number(now) < number(was),
                (k, _, _) if LOWER.contains(&k) => number(now) > number(was),
                _ => true, // a changed pattern or multipleOf: assume it refuses something
            };
            let what = format!(
                "{key} is now {} (was {})",
                now.map_or("none".into(), |v| v.to_string()),
                was.map_or("none".into(), |v| v.to_string())
            );
            let rule = match (self.dir, tighter) {
                (Direction::Input, true) => Rule::InputConstraintTightened,
                (Direction::Input, false) => Rule::InputConstraintLoosened,
                (Direction::Output, _) => Rule::OutputConstraintChanged,
            };
            self.add(rule, path, what);
        }
    }

    fn properties(&mut self, a: &Shape, b: &Shape, path: &str) {
        for (name, was) in &a.properties {
            let here = join(path, name);
            match b.properties.get(name) {
                None => {
                    let rule = self.pick(Rule::InputPropertyRemoved, Rule::OutputPropertyRemoved);
                    self.add(rule, &here, "removed".into());
                }
                Some(now) => {
                    match (a.required.contains(name), b.required.contains(name)) {
                        (false, true) => {
                            let rule = self.pick(
                                Rule::InputPropertyBecameRequired,
                                Rule::OutputPropertyBecameRequired,
                            );
                            self.add(rule, &here, "now required".into());
                        }
                        (true, false) => {
                            let rule = self.pick(
                                Rule::InputPropertyBecameOptional,
                                Rule::OutputPropertyBecameOptional,
                            );
                            self.add(rule, &here, "no longer required".into());
                        }
                        _ => {}
                    }
                    self.node(was, now, &here);
                }
            }
        }
        for name in b
            .properties
            .keys()
            .filter(|n| !a.properties.contains_key(*n))
        {
            let here = join(path, name);
            let rule = match (self.dir, b.required.contains(name)) {
                (Direction::Input, true) => Rule::InputRequiredPropertyAdded,
                (Direction::Input, false) => Rule::InputPropertyAdded,
                (Direction::Output, _) => Rule::OutputPropertyAdded,
            };
            let what = if rule == Rule::InputRequiredPropertyAdded {
                "added, required"
            } else {
                "added"
            };
            self.add(rule, &here, what.into());
        }
    }

    fn additional(&mut self, a: &Shape, b: &Shape, path: &str) {
        let closed = |v: Option<&Value>| v == Some(&Value::Bool(false));
        match (closed(a.additional), closed(b.additional)) {
            (false, true) if self.dir == Direction::Input => {
                self.add(
                    Rule::InputConstraintTightened,
                    path,
                    "no longer accepts other properties".into(),
                );
            }
            (true, false) if self.dir == Direction::Input => {
                self.add(
                    Rule::InputConstraintLoosened,
                    path,
                    "now accepts other properties".into(),
                );
            }
            _ => {
                if let (Some(x @ Value::Object(_)), Some(y @ Value::Object(_))) =
                    (a.additional, b.additional)
                {
                    self.node(x, y, &format!("{path}{{}}"));
                }
            }
        }
    }

    fn variants(&mut self, a: &Shape, b: &Shape, path: &str) {
        if a.variants.is_empty() && b.variants.is_empty() {
            return;
        }
        let text = |v: &&Value| v.to_string();
        let was: BTreeSet<String> = a.variants.iter().map(text).collect();
        let now: BTreeSet<String> = b.variants.iter().map(text).collect();
        if was == now {
            return;
        }
        if a.variants.len() == b.variants.len() {
            // The same alternatives, each changed in place.
            for (i, (x, y)) in a.variants.iter().zip(&b.variants).enumerate() {
                self.node(x, y, &format!("{path}<{}>", i + 1));
            }
            return;
        }
        let removed = was.difference(&now).count();
        let added = now.difference(&was).count();
        if removed > 0 {
            let rule = self.pick(Rule::InputVariantsChanged, Rule::OutputVariantRemoved);
            self.add(
                rule,
                path,
                format!("{removed} alternative(s) of anyOf/oneOf removed"),
            );
        }
        if added > 0 {
            let rule = self.pick(Rule::InputVariantAdded, Rule::OutputVariantsChanged);
            self.add(
                rule,
                path,
                format!("{added} alternative(s) of anyOf/oneOf added"),
            );
        }
    }
}

fn show(value: Option<&Value>) -> String {
    value.map_or("none".into(), Value::to_string)
}
