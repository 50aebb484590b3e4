//! JSON Schemas of protobuf messages, following the proto3 JSON mapping:
//! fields by their JSON name, 64-bit integers as strings (numbers accepted),
//! bytes as base64, enums by name, maps as objects, well-known types in their
//! special JSON forms. Messages become `$defs` named by their full name, so
//! recursive messages stay finite.

use std::collections::BTreeMap;

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::comments::leading_comment;

/// Collects message definitions while schemas are built.
#[derive(Default)]
pub struct ProtoSchemas {
    /// Definitions by full message name.
    pub defs: BTreeMap<String, Value>,
}

impl ProtoSchemas {
    /// The schema of a value of message type `msg` (a `$ref`, or the
    /// well-known type's JSON form).
    pub fn message(&mut self, msg: &MessageDescriptor) -> Value {
        if let Some(wkt) = well_known(msg.full_name()) {
            return wkt;
        }
        let name = msg.full_name().to_string();
        if !self.defs.contains_key(&name) {
            // Placeholder first: recursion through this message ends here.
            self.defs.insert(name.clone(), Value::Bool(true));
            let def = self.definition(msg);
            self.defs.insert(name.clone(), def);
        }
        json!({ "$ref": aip_ir::def_ref(&name) })
    }

    fn definition(&mut self, msg: &MessageDescriptor) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in msg.fields() {
            let mut schema = self.field(&field);
            if let (Some(text), Value::Object(obj)) = (
                leading_comment(&field.parent_file(), field.path()),
                &mut schema,
            ) {
                obj.insert("description".into(), Value::String(text));
            }
            if field.cardinality() == Cardinality::Required {
                required.push(Value::String(field.json_name().to_string()));
            }
            properties.insert(field.json_name().to_string(), schema);
        }
        let mut def = Map::new();
        def.insert("type".into(), json!("object"));
        if let Some(text) = leading_comment(&msg.parent_file(), msg.path()) {
            def.insert("description".into(), Value::String(text));
        }
        def.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            def.insert("required".into(), Value::Array(required));
        }
        if let Some(exclusions) = oneof_exclusions(msg) {
            def.insert("dependentSchemas".into(), exclusions);
        }
        Value::Object(def)
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map() {
            let value_schema = match field.kind() {
                Kind::Message(entry) => self.single(&entry.map_entry_value_field()),
                _ => json!({}),
            };
            return json!({ "type": "object", "additionalProperties": value_schema });
        }
        let single = self.single(field);
        if field.is_list() {
            json!({ "type": "array", "items": single })
        } else {
            single
        }
    }

    fn single(&mut self, field: &FieldDescriptor) -> Value {
        match field.kind() {
            Kind::Double | Kind::Float => json!({
                "anyOf": [{ "type": "number" }, { "enum": ["NaN", "Infinity", "-Infinity"] }]
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "uint32", "minimum": 0 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({
                "type": ["string", "integer"], "format": "int64", "pattern": "^-?[0-9]+$"
            }),
            Kind::Uint64 | Kind::Fixed64 => json!({
                "type": ["string", "integer"], "format": "uint64", "pattern": "^[0-9]+$"
            }),
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
            Kind::Enum(e) => {
                if e.full_name() == "google.protobuf.NullValue" {
                    return json!({ "type": "null" });
                }
                let names: Vec<Value> = e
                    .values()
                    .map(|v| Value::String(v.name().to_string()))
                    .collect();
                json!({ "anyOf": [{ "type": "string", "enum": names }, { "type": "integer" }] })
            }
            Kind::Message(m) => self.message(&m),
        }
    }
}

/// A `oneof` of several fields takes at most one of them: each member
/// rules the others out (`dependentSchemas`, so callers see it in the
/// input schema rather than as the vendor's error). Proto3 `optional`
/// fields are one-member oneofs and rule nothing out.
fn oneof_exclusions(msg: &MessageDescriptor) -> Option<Value> {
    let mut dependent = Map::new();
    for oneof in msg.oneofs().filter(|o| !o.is_synthetic()) {
        let members: Vec<String> = oneof.fields().map(|f| f.json_name().to_string()).collect();
        if members.len() < 2 {
            continue;
        }
        for member in &members {
            let others: Map<String, Value> = members
                .iter()
                .filter(|other| *other != member)
                .map(|other| (other.clone(), Value::Bool(false)))
                .collect();
            dependent.insert(member.clone(), json!({ "properties": others }));
        }
    }
    (!dependent.is_empty()).then_some(Value::Object(dependent))
}

/// The JSON form of a well-known type, if `full_name` is one.
fn well_known(full_name: &str) -> Option<Value> {
    let nullable = |ty: Value| json!({ "type": [ty, "null"] });
    Some(match full_name {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "examples": ["1.5s"] })
        }
        "google.protobuf.FieldMask" => json!({ "type": "string" }),
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Empty" => json!({ "type": "object", "additionalProperties": false }),
        "google.protobuf.Any" => json!({
            "type": "object", "properties": { "@type": { "type": "string" } }, "required": ["@type"]
        }),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => nullable(json!("number")),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => nullable(json!("integer")),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "integer", "null"] })
        }
        "google.protobuf.BoolValue" => nullable(json!("boolean")),
        "google.protobuf.StringValue" => nullable(json!("string")),
        "google.protobuf.BytesValue" => {
            json!({ "type": ["string", "null"], "contentEncoding": "base64" })
        }
        _ => return None,
    })
}
