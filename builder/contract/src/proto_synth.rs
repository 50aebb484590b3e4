//! Protobuf messages synthesized from their descriptors: the answers the
//! mock gRPC vendor gives. Every field is set (the first of each `oneof`),
//! lists and maps hold one item, nested messages are followed a few levels
//! deep; a `google.protobuf.Any` packs a message of the descriptor set
//! (`google.protobuf.Empty` when it is there), so the module's JSON for
//! it is tested too. Deterministic: the same descriptor gives the same
//! bytes.

use prost::Message;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};

const ANY: &str = "google.protobuf.Any";

/// How deep nested messages are filled.
const MAX_DEPTH: usize = 4;

/// A message of type `descriptor` with every field set.
pub fn message(descriptor: &MessageDescriptor) -> DynamicMessage {
    fill(descriptor, 0)
}

fn fill(descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if depth > MAX_DEPTH || descriptor.full_name() == ANY {
        return message;
    }
    for field in descriptor.fields() {
        // One member of each oneof: setting another would clear it.
        if let Some(oneof) = field.containing_oneof()
            && oneof.fields().next().is_some_and(|first| first != field)
        {
            continue;
        }
        if let Some(value) = field_value(&field, depth) {
            message.set_field(&field, value);
        }
    }
    message
}

fn field_value(field: &FieldDescriptor, depth: usize) -> Option<Value> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return None;
        };
        let key = map_key(&entry.map_entry_key_field().kind())?;
        let value = single(&entry.map_entry_value_field().kind(), depth)?;
        return Some(Value::Map([(key, value)].into_iter().collect()));
    }
    let value = single(&field.kind(), depth)?;
    if field.is_list() {
        return Some(Value::List(vec![value]));
    }
    Some(value)
}

fn single(kind: &Kind, depth: usize) -> Option<Value> {
    Some(match kind {
        Kind::Double => Value::F64(1.5),
        Kind::Float => Value::F32(1.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(7),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(7),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(7),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(7),
        Kind::Bool => Value::Bool(true),
        Kind::String => Value::String("text".into()),
        Kind::Bytes => Value::Bytes(b"bytes".to_vec().into()),
        // The last value: a proto3 enum's first is its zero "unspecified".
        Kind::Enum(e) => Value::EnumNumber(e.values().last().map_or(0, |v| v.number())),
        Kind::Message(m) if m.full_name() == ANY => Value::Message(any(m, depth)?),
        Kind::Message(m) if depth >= MAX_DEPTH => {
            // Deep enough: an empty message stops recursive types.
            Value::Message(DynamicMessage::new(m.clone()))
        }
        Kind::Message(m) => Value::Message(fill(m, depth + 1)),
    })
}

/// An `Any` packing a message of the same descriptor set.
fn any(descriptor: &MessageDescriptor, depth: usize) -> Option<DynamicMessage> {
    let pool = descriptor.parent_pool();
    let packed = pool
        .get_message_by_name("google.protobuf.Empty")
        .or_else(|| {
            pool.all_messages()
                .find(|m| m.full_name() != ANY && !m.is_map_entry())
        })?;
    let mut any = DynamicMessage::new(descriptor.clone());
    any.set_field_by_name(
        "type_url",
        Value::String(format!("type.googleapis.com/{}", packed.full_name())),
    );
    any.set_field_by_name(
        "value",
        Value::Bytes(
            fill(&packed, MAX_DEPTH.max(depth + 1))
                .encode_to_vec()
                .into(),
        ),
    );
    Some(any)
}

fn map_key(kind: &Kind) -> Option<MapKey> {
    Some(match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(7),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(7),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(7),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(7),
        Kind::Bool => MapKey::Bool(true),
        Kind::String => MapKey::String("key".into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> prost_reflect::DescriptorPool {
        let file = prost_types::FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t".into()),
            syntax: Some("proto3".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("Node".into()),
                field: vec![
                    field("name", 1, 9, None, None),
                    field("child", 2, 11, Some(".t.Node"), None),
                    field("a", 3, 5, None, Some(0)),
                    field("b", 4, 9, None, Some(0)),
                ],
                oneof_decl: vec![prost_types::OneofDescriptorProto {
                    name: Some("choice".into()),
                    options: None,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        prost_reflect::DescriptorPool::from_file_descriptor_set(prost_types::FileDescriptorSet {
            file: vec![file],
        })
        .expect("pool")
    }

    fn field(
        name: &str,
        number: i32,
        kind: i32,
        type_name: Option<&str>,
        oneof: Option<i32>,
    ) -> prost_types::FieldDescriptorProto {
        prost_types::FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            r#type: Some(kind),
            type_name: type_name.map(String::from),
            label: Some(1),
            oneof_index: oneof,
            ..Default::default()
        }
    }

    #[test]
    fn recursive_messages_stop_and_oneofs_hold_their_first_member() {
        let pool = pool();
        let node = pool.get_message_by_name("t.Node").expect("Node");
        let message = message(&node);
        let json = serde_json::to_value(&message).expect("json");
        assert_eq!(json["name"], "text");
        assert_eq!(json["a"], 7);
        assert!(json.get("b").is_none(), "{json}");
        let mut depth = 0;
        let mut at = &json;
        while let Some(child) = at.get("child") {
            depth += 1;
            at = child;
        }
        assert_eq!(depth, MAX_DEPTH + 1, "{json}");
        assert_eq!(
            message.encode_to_vec(),
            super::message(&node).encode_to_vec()
        );
    }
}
