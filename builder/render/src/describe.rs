//! The document an adapter's `describe()` returns.

use aip_ir::{Api, schema_closure};
use serde_json::{Map, Value, json};

/// `{"name", "title", "version", "operations": [...], "$defs": {...}}`.
///
/// Each operation carries its intent, method, path and input/output JSON
/// Schemas. To keep components small, named schemas are stored once under
/// the document's top-level `$defs`; the operation schemas refer to them as
/// `#/$defs/<name>`.
pub fn describe_document(api: &Api) -> Value {
    let mut all_refs = Map::new();
    let operations: Vec<Value> = api
        .operations
        .iter()
        .map(|op| {
            let input = aip_ir::input_schema_root(op);
            let output = aip_ir::output_schema_root(op);
            for root in [&input, &output] {
                for (name, schema) in schema_closure(api, root) {
                    all_refs.insert(name, schema);
                }
            }
            let mut entry = Map::new();
            entry.insert("id".into(), json!(op.id));
            entry.insert("intent".into(), json!(op.intent));
            entry.insert("method".into(), json!(op.method.as_str()));
            entry.insert("path".into(), json!(op.path));
            if let Some(summary) = &op.summary {
                entry.insert("summary".into(), json!(summary));
            }
            if let Some(rpc) = &op.rpc {
                entry.insert("kind".into(), json!(rpc.kind()));
            }
            if op.deprecated {
                entry.insert("deprecated".into(), json!(true));
            }
            entry.insert("input_schema".into(), input);
            entry.insert("output_schema".into(), output);
            Value::Object(entry)
        })
        .collect();
    let mut defs: Vec<(String, Value)> = all_refs.into_iter().collect();
    defs.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "name": api.name,
        "title": api.title,
        "version": api.api_version,
        "operations": operations,
        "$defs": Value::Object(defs.into_iter().collect()),
    })
}
