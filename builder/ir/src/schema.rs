//! JSON Schemas of operation inputs and outputs, built from the IR.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::{Api, Operation};

/// What every reference to a named schema starts with.
pub const DEFS_PREFIX: &str = "#/$defs/";

/// The reference to the named schema `name`: `#/$defs/<name>`, the name
/// escaped as a JSON pointer token. The one place the format is written.
pub fn def_ref(name: &str) -> String {
    format!(
        "{DEFS_PREFIX}{}",
        name.replace('~', "~0").replace('/', "~1")
    )
}

/// The schema name a `#/$defs/<name>` reference points at (unescaped);
/// `None` for any other reference. The one place the format is read.
pub fn def_name(reference: &str) -> Option<String> {
    let rest = reference.strip_prefix(DEFS_PREFIX)?;
    let token = rest.split('/').next().unwrap_or(rest);
    Some(unescape_pointer_token(token))
}

/// How many `$ref`s [`resolve_def`] follows before it stops (a cycle of
/// references to references).
pub const MAX_REF_HOPS: usize = 32;

/// Follows `schema`'s `#/$defs/<name>` references through `defs`: the
/// schema reached (`schema` itself when it is no reference, or names no
/// schema of `defs`) and the last name followed. The one place references
/// between named schemas are followed.
pub fn resolve_def<'v>(
    defs: &'v BTreeMap<String, Value>,
    mut schema: &'v Value,
) -> (&'v Value, Option<String>) {
    let mut name = None;
    for _ in 0..MAX_REF_HOPS {
        let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(def_name)
        else {
            break;
        };
        match defs.get(&target) {
            Some(next) => {
                schema = next;
                name = Some(target);
            }
            None => break,
        }
    }
    (schema, name)
}

/// The JSON Schema of an operation's input object: every parameter under its
/// input key, plus `body` (for gRPC methods: the request message itself).
/// Its references point at `#/$defs/<name>` of whatever document embeds it
/// next to the API's schemas (see [`schema_closure`]).
pub fn input_schema_root(op: &Operation) -> Value {
    // A gRPC method's input is its request message itself.
    if op.rpc.is_some()
        && let Some(schema) = op
            .request_body
            .as_ref()
            .and_then(|b| b.contents.iter().find_map(|m| m.schema.clone()))
    {
        return schema;
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in &op.parameters {
        let mut schema = param.schema.clone();
        if let (Some(desc), Value::Object(obj)) = (&param.description, &mut schema) {
            obj.entry("description")
                .or_insert_with(|| Value::String(desc.clone()));
        }
        properties.insert(param.input_key.clone(), schema);
        if param.required {
            required.push(Value::String(param.input_key.clone()));
        }
    }
    // A body the spec gives no media type for cannot be sent.
    if let Some(body) = op.request_body.as_ref().filter(|b| !b.contents.is_empty()) {
        // The schema of the media type the adapter sends (bodies of several
        // media types may differ: OpenAI's image edits take a file as
        // multipart and a reference as JSON).
        let schema = body
            .sent_media_type()
            .and_then(|m| m.schema.clone())
            .or_else(|| body.contents.iter().find_map(|m| m.schema.clone()))
            .unwrap_or_else(|| json!({}));
        properties.insert("body".into(), schema);
        if body.required {
            required.push(Value::String("body".into()));
        }
    }
    let mut root = Map::new();
    root.insert("type".into(), json!("object"));
    root.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        root.insert("required".into(), Value::Array(required));
    }
    root.insert("additionalProperties".into(), json!(false));
    Value::Object(root)
}

/// The schema of an operation's successful output without `$defs`: the
/// schema of the first media type of each 2xx response (`anyOf` when several
/// differ), or `{}` when the spec says nothing.
pub fn output_schema_root(op: &Operation) -> Value {
    let mut variants: Vec<Value> = Vec::new();
    for response in op.responses.iter().filter(|r| r.is_success()) {
        if let Some(schema) = response.contents.iter().find_map(|m| m.schema.clone())
            && !variants.contains(&schema)
        {
            variants.push(schema);
        }
    }
    match variants.len() {
        0 => json!({}),
        1 => variants.remove(0),
        _ => json!({ "anyOf": variants }),
    }
}

/// Every named schema `root` references, directly or through other named
/// schemas, by name.
pub fn schema_closure(api: &Api, root: &Value) -> BTreeMap<String, Value> {
    let mut seen = BTreeSet::new();
    let mut queue = Vec::new();
    collect_refs(root, &mut queue);
    let mut out = BTreeMap::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = api.schemas.get(&name) {
            collect_refs(schema, &mut queue);
            out.insert(name, schema.clone());
        }
    }
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get("$ref")
                && let Some(name) = def_name(r)
            {
                out.push(name);
            }
            for v in obj.values() {
                collect_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn unescape_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}
