//! Values synthesized from JSON Schemas: the inputs the contract test sends
//! through the module, and the answers the mock vendor gives. Examples and
//! defaults first, then the first enum value, then a value of the first
//! type that satisfies the schema's bounds (a string is checked against
//! its `pattern` and `format` before it is used).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// How deep nested objects and arrays are followed.
const MAX_DEPTH: usize = 12;

/// Synthesizes values against one API's named schemas.
pub struct Synth<'a> {
    defs: &'a BTreeMap<String, Value>,
}

impl<'a> Synth<'a> {
    /// A synthesizer for schemas referring into `defs`.
    pub fn new(defs: &'a BTreeMap<String, Value>) -> Synth<'a> {
        Synth { defs }
    }

    /// A value for `schema`: objects in the first `full_levels` levels get
    /// every property (an input's parameters and its body's fields, to
    /// exercise each), deeper ones only their required ones.
    pub fn value(&self, schema: &Value, full_levels: usize) -> Value {
        self.at(schema, full_levels, 0)
    }

    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        aip_ir::resolve_def(self.defs, schema).0
    }

    fn at(&self, schema: &Value, full: usize, depth: usize) -> Value {
        let schema = self.resolve(schema);
        let Some(obj) = schema.as_object() else {
            return json!({});
        };
        // An example or default only when it is of the schema's type:
        // published specs give `default: "100"` for integers and JSON
        // objects as example strings.
        // A typed scalar judges by its type; objects, arrays and untyped
        // schemas (an `allOf` wrapper with a default) by the whole schema:
        // OpenAI's object examples leave out required properties.
        let fits = |value: &&Value| {
            fits_type(obj, value)
                && ((obj.contains_key("type") && !value.is_object() && !value.is_array())
                    || self.with_defs(schema).is_none_or(|v| v.is_valid(value)))
        };
        for key in ["const", "example", "default"] {
            if let Some(value) = obj.get(key).filter(fits) {
                return value.clone();
            }
        }
        if let Some(Value::Array(examples)) = obj.get("examples")
            && let Some(first) = examples.first().filter(fits)
        {
            return first.clone();
        }
        if let Some(Value::Array(values)) = obj.get("enum")
            && let Some(first) = values.iter().find(|v| !v.is_null())
        {
            return first.clone();
        }
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            // `allOf: [X]` beside nothing but annotations is X.
            if let [only] = all.as_slice()
                && !obj.contains_key("properties")
            {
                return self.at(only, full, depth + 1);
            }
            let mut merged = Map::new();
            let mut scalar = None;
            for member in all {
                match self.at(member, full, depth + 1) {
                    Value::Object(part) => merged.extend(part),
                    Value::Null => {}
                    // A member that is not an object (`allOf: [oneOf of a
                    // string or an object, {anyOf: [{}, null]}]`).
                    other => scalar = scalar.or(Some(other)),
                }
            }
            if let (Some(value), true) =
                (scalar, merged.is_empty() && !obj.contains_key("properties"))
            {
                return value;
            }
            if let Value::Object(own) = self.object(obj, full, depth) {
                merged.extend(own);
            }
            // Required here, defined in a member (`allOf: [$ref]` plus
            // `required: [name]` beside it).
            for name in required_names(obj) {
                if merged.contains_key(&name) {
                    continue;
                }
                let schema = all
                    .iter()
                    .find_map(|m| self.resolve(m).get("properties")?.get(&name));
                if let Some(schema) = schema {
                    merged.insert(name, self.at(schema, 0, depth + 1));
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(options)) = obj.get(key) {
                // Each alternative applies with the rest of the schema
                // (`properties` here, `anyOf: [{required: [a]}, {required:
                // [b]}]`): synthesized from the two merged.
                let candidates: Vec<Value> = options
                    .iter()
                    .filter(|o| o.get("type") != Some(&json!("null")))
                    .map(|o| self.at(&merged_with(obj, key, self.resolve(o)), full, depth + 1))
                    .collect();
                // The first alternative's value that the whole schema takes
                // (for oneOf: that no other alternative also matches).
                let whole = self.with_defs(schema);
                let chosen = candidates
                    .iter()
                    .find(|c| whole.as_ref().is_none_or(|v| v.is_valid(c)))
                    .or(candidates.first());
                if let Some(value) = chosen {
                    return value.clone();
                }
            }
        }
        match first_type(obj).as_deref() {
            Some("object") => self.object(obj, full, depth),
            Some("array") => self.array(obj, full, depth),
            Some("integer") => json!(number_within(obj, 1.0) as i64),
            Some("number") => json!(number_within(obj, 1.5)),
            Some("boolean") => json!(true),
            Some("null") => Value::Null,
            Some("string") => string_for(obj),
            _ if obj.contains_key("properties") => self.object(obj, full, depth),
            _ => json!("x"),
        }
    }

    /// An array: the tuple's items (`prefixItems`, or draft-4 `items` as a
    /// list), else `minItems` (two when unset, within `maxItems`) of
    /// `items`, distinct when `uniqueItems` asks.
    fn array(&self, obj: &Map<String, Value>, full: usize, depth: usize) -> Value {
        let tuple = obj
            .get("prefixItems")
            .or_else(|| obj.get("items").filter(|i| i.is_array()))
            .and_then(Value::as_array);
        if let Some(tuple) = tuple {
            return Value::Array(tuple.iter().map(|s| self.at(s, 0, depth + 1)).collect());
        }
        let item = obj.get("items").map_or(json!("x"), |items| {
            self.at(items, full.saturating_sub(1), depth + 1)
        });
        // Two items unless the schema says otherwise (one item looks the
        // same in every parameter style, two show the delimiters); one when
        // the items must differ and nothing asks for more (made distinct,
        // an enum's value would leave the enum).
        let unique = obj.get("uniqueItems") == Some(&Value::Bool(true));
        let max = obj
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(8)
            .max(1);
        let count = obj
            .get("minItems")
            .and_then(Value::as_u64)
            .unwrap_or(if unique { 1 } else { 2 })
            .min(max)
            .clamp(1, 8);
        Value::Array(
            (0..count)
                .map(|i| match (&item, unique && i > 0) {
                    (Value::String(text), true) => json!(format!("{text}{i}")),
                    (Value::Number(n), true) => json!(n.as_f64().unwrap_or(0.0) as i64 + i as i64),
                    (other, _) => other.clone(),
                })
                .collect(),
        )
    }

    /// A validator for `schema` with the named schemas beside it.
    fn with_defs(&self, schema: &Value) -> Option<jsonschema::Validator> {
        jsonschema::validator_for(&crate::validate::with_referenced_defs(schema, self.defs)).ok()
    }

    fn object(&self, obj: &Map<String, Value>, full: usize, depth: usize) -> Value {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(Value::Object(props)) = obj.get("properties") {
            for (name, schema) in props {
                let wanted = obj
                    .get("minProperties")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if excluded_by(obj, &out, name) {
                    continue;
                }
                if full > 0 || required.contains(&name.as_str()) || (out.len() as u64) < wanted {
                    let value = self.at(schema, full.saturating_sub(1), depth + 1);
                    if !value.is_null() || required.contains(&name.as_str()) {
                        out.insert(name.clone(), value);
                    }
                }
            }
        }
        // Required but defined nowhere (a published spec's slip): any
        // value satisfies the schema.
        for name in required {
            if !out.contains_key(name) {
                out.insert(name.to_string(), json!("x"));
            }
        }
        // Not enough properties for `minProperties`: entries of the map
        // `additionalProperties` describes, named as `propertyNames` allows.
        let wanted = obj
            .get("minProperties")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if let Some(values @ Value::Object(_)) = obj.get("additionalProperties") {
            let names: Vec<String> = obj
                .get("propertyNames")
                .and_then(|p| p.get("enum"))
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| (1..=8).map(|i| format!("k{i}")).collect());
            for name in names {
                if out.len() as u64 >= wanted {
                    break;
                }
                out.entry(name)
                    .or_insert_with(|| self.at(values, 0, depth + 1));
            }
        }
        Value::Object(out)
    }
}

/// Whether a property already in `out` rules `name` out through
/// `dependentSchemas` (`{a: {properties: {b: false}}}`: with `a`, no `b`;
/// how a protobuf `oneof` says "at most one of these").
fn excluded_by(obj: &Map<String, Value>, out: &Map<String, Value>, name: &str) -> bool {
    let Some(Value::Object(dependent)) = obj.get("dependentSchemas") else {
        return false;
    };
    out.keys().any(|present| {
        dependent
            .get(present)
            .and_then(|d| d.get("properties"))
            .and_then(|p| p.get(name))
            == Some(&Value::Bool(false))
    })
}

/// The schema `obj` without its `key` (`anyOf`/`oneOf`) list, with one
/// alternative's keywords added: `required` and `properties` merged, the
/// alternative's other keywords where `obj` has none.
fn merged_with(obj: &Map<String, Value>, key: &str, option: &Value) -> Value {
    let mut merged = obj.clone();
    merged.remove(key);
    // Annotations of the whole do not fit one alternative.
    for annotation in ["example", "examples", "default", "const", "enum"] {
        merged.remove(annotation);
    }
    let Some(option) = option.as_object() else {
        return Value::Object(merged);
    };
    if !["properties", "type", "required"]
        .iter()
        .any(|k| obj.contains_key(*k))
    {
        // Nothing beside the list but annotations: the alternative alone.
        return Value::Object(option.clone());
    }
    for (k, v) in option {
        match (k.as_str(), merged.get_mut(k)) {
            ("required", Some(Value::Array(mine))) => {
                for name in v.as_array().into_iter().flatten() {
                    if !mine.contains(name) {
                        mine.push(name.clone());
                    }
                }
            }
            ("properties", Some(Value::Object(mine))) => {
                if let Value::Object(theirs) = v {
                    for (name, schema) in theirs {
                        mine.entry(name.clone()).or_insert_with(|| schema.clone());
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(merged)
}

fn required_names(obj: &Map<String, Value>) -> Vec<String> {
    obj.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `value` is of one of the schema's types (no `type`: any).
fn fits_type(obj: &Map<String, Value>, value: &Value) -> bool {
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    types.iter().any(|t| match *t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    })
}

fn first_type(obj: &Map<String, Value>) -> Option<String> {
    match obj.get("type") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_string),
        _ => None,
    }
}

/// `preferred`, moved inside the schema's bounds.
fn number_within(obj: &Map<String, Value>, preferred: f64) -> f64 {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64);
    let mut n = preferred;
    if let Some(min) = bound("minimum") {
        n = n.max(min);
    }
    if let Some(min) = bound("exclusiveMinimum") {
        n = n.max(min + 1.0);
    }
    if let Some(max) = bound("maximum") {
        n = n.min(max);
    }
    if let Some(max) = bound("exclusiveMaximum") {
        n = n.min(max - 1.0);
    }
    if let Some(step) = bound("multipleOf").filter(|s| *s > 0.0) {
        n = (n / step).ceil() * step;
    }
    n
}

/// A string that satisfies the schema's format, length and pattern when
/// one of a few candidates does.
fn string_for(obj: &Map<String, Value>) -> Value {
    let by_format = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => Some("2026-01-02T03:04:05Z"),
        Some("date") => Some("2026-01-02"),
        Some("time") => Some("03:04:05Z"),
        Some("uuid") => Some("00000000-0000-4000-8000-000000000001"),
        Some("email") => Some("someone@example.com"),
        Some("uri" | "url") => Some("https://example.com/x"),
        Some("hostname") => Some("example.com"),
        Some("ipv4") => Some("192.0.2.1"),
        Some("ipv6") => Some("2001:db8::1"),
        Some("byte") => Some("eA=="),
        Some("int64" | "int32" | "uint64") => Some("1"),
        // JSON Schema 2020-12 says base64 with `contentEncoding` (proto3
        // JSON's bytes).
        _ if obj.get("contentEncoding").and_then(Value::as_str) == Some("base64") => Some("eA=="),
        _ => None,
    };
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(1);
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let fitted = |text: String| -> String {
        let mut text = text;
        while (text.chars().count() as u64) < min {
            text.push('x');
        }
        text.chars()
            .take(usize::try_from(max.max(min)).unwrap_or(usize::MAX))
            .collect()
    };
    let mut candidates: Vec<String> = by_format.map(str::to_string).into_iter().collect();
    candidates.extend(["x", "a1", "1", "A", "abc-1", "x_1", "AB12", "abc"].map(str::to_string));
    let checked: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "pattern" | "minLength" | "maxLength"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let validator = jsonschema::validator_for(&Value::Object(checked)).ok();
    candidates
        .into_iter()
        .map(fitted)
        .find(|c| validator.as_ref().is_none_or(|v| v.is_valid(&json!(c))))
        .map_or(json!("x"), Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_ruled_out_by_dependent_schemas_are_left_out() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}
        }, "dependentSchemas": {
            "a": {"properties": {"b": false}},
            "b": {"properties": {"a": false}},
        }});
        let defs = BTreeMap::new();
        let value = Synth::new(&defs).value(&schema, 2);
        assert_eq!(value, json!({"a": "x", "c": "x"}));
        assert!(
            jsonschema::validator_for(&schema)
                .expect("schema")
                .is_valid(&value)
        );
    }

    #[test]
    fn values_fit_their_schemas() {
        let defs = BTreeMap::from([(
            "Pet".to_string(),
            json!({"type": "object", "required": ["id", "tag"], "properties": {
                "id": {"type": "integer", "minimum": 10},
                "tag": {"type": "string", "pattern": "^[0-9]+$"},
                "kind": {"enum": ["cat", "dog"]},
            }}),
        )]);
        let synth = Synth::new(&defs);
        let schema = json!({"type": "array", "items": {"$ref": "#/$defs/Pet"}, "minItems": 2});
        let value = synth.value(&schema, 0);
        assert_eq!(
            value,
            json!([{"id": 10, "tag": "1"}, {"id": 10, "tag": "1"}])
        );
        let all = synth.value(&json!({"$ref": "#/$defs/Pet"}), 1);
        assert_eq!(all["kind"], "cat");
        assert_eq!(
            synth.value(&json!({"type": "string", "format": "date-time"}), 0),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            synth.value(
                &json!({"type": "string", "minLength": 3, "maxLength": 3}),
                0
            ),
            "xxx"
        );
        assert_eq!(synth.value(&json!({"type": "integer", "maximum": 0}), 0), 0);
    }
}
