//! Protobuf wire and JSON rules for gRPC APIs, read from the descriptor
//! sets both versions carry: a field's number, name, type, cardinality,
//! `json_name` and oneof; reserved numbers and names; enum value numbers
//! and names. Only messages and enums an operation reaches are compared.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{
    Cardinality, DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor,
};

use crate::{Changes, Rule};

/// Compares the wire contract of `old` and `new` (both gRPC APIs).
pub(crate) fn compare(old: &aip_ir::Api, new: &aip_ir::Api, changes: &mut Changes) {
    let (Some(old_set), Some(new_set)) = (&old.descriptor_set, &new.descriptor_set) else {
        return;
    };
    let (Ok(old_pool), Ok(new_pool)) = (
        DescriptorPool::decode(old_set.as_slice()),
        DescriptorPool::decode(new_set.as_slice()),
    ) else {
        return; // both were decoded by the ingest: not reachable
    };
    let users = reachable(old, &old_pool);
    let mut wire = Wire { changes };
    for (name, ops) in &users {
        let operation = ops.first().map(String::as_str);
        if let Some(message) = old_pool.get_message_by_name(name) {
            if let Some(now) = new_pool.get_message_by_name(name) {
                wire.message(&message, &now, operation);
            }
        } else if let (Some(was), Some(now)) = (
            old_pool.get_enum_by_name(name),
            new_pool.get_enum_by_name(name),
        ) {
            wire.enumeration(&was, &now, operation);
        }
    }
}

/// Every message and enum the operations reach, with the operations that
/// reach it (in operation order).
fn reachable(api: &aip_ir::Api, pool: &DescriptorPool) -> BTreeMap<String, Vec<String>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for op in &api.operations {
        let Some(rpc) = &op.rpc else { continue };
        let mut seen = BTreeSet::new();
        let mut queue = vec![rpc.input_type.clone(), rpc.output_type.clone()];
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(message) = pool.get_message_by_name(&name) {
                for field in message.fields() {
                    match field.kind() {
                        Kind::Message(m) => queue.push(m.full_name().to_string()),
                        Kind::Enum(e) => queue.push(e.full_name().to_string()),
                        _ => {}
                    }
                }
            }
            users.entry(name).or_default().push(op.id.clone());
        }
    }
    users
}

struct Wire<'c> {
    changes: &'c mut Changes,
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        scalar => format!("{scalar:?}").to_ascii_lowercase(),
    }
}

fn cardinality(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        "map"
    } else if field.is_list() {
        "repeated"
    } else if field.field_descriptor_proto().proto3_optional() {
        "optional"
    } else if field.cardinality() == Cardinality::Required {
        "required"
    } else {
        "singular"
    }
}

fn oneof(field: &FieldDescriptor) -> Option<String> {
    field
        .containing_oneof()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.name().to_string())
}

impl Wire<'_> {
    fn add(&mut self, rule: Rule, operation: Option<&str>, old: &str, new: &str, message: String) {
        let old = Some(self.changes.old_at(old));
        let new = Some(self.changes.new_at(new));
        self.changes.add(rule, operation, old, new, message);
    }

    fn message(
        &mut self,
        was: &MessageDescriptor,
        now: &MessageDescriptor,
        operation: Option<&str>,
    ) {
        let name = was.full_name();
        let reserved_number = |n: u32| now.reserved_ranges().any(|r| r.contains(&n));
        for field in was.fields() {
            let number = field.number();
            let at = format!("{name}.{}", field.name());
            let Some(after) = now.get_field(number) else {
                if !reserved_number(number) && !now.reserved_names().any(|r| r == field.name()) {
                    let place = name.to_string();
                    self.add(
                        Rule::ProtoFieldRemoved,
                        operation,
                        &at,
                        &place,
                        format!(
                            "{name}: field {} = {number} was removed without reserving its number",
                            field.name()
                        ),
                    );
                }
                continue;
            };
            let here = format!("{name}.{}", after.name());
            let mut check = |rule: Rule, what: &str, before: String, after: String| {
                if before != after {
                    self.add(
                        rule,
                        operation,
                        &at,
                        &here,
                        format!("{name}: field {number} {what} is now {after} (was {before})"),
                    );
                }
            };
            check(
                Rule::ProtoFieldRenamed,
                "name",
                field.name().into(),
                after.name().into(),
            );
            check(
                Rule::ProtoFieldTypeChanged,
                "type",
                kind_name(&field.kind()),
                kind_name(&after.kind()),
            );
            check(
                Rule::ProtoFieldCardinalityChanged,
                "cardinality",
                cardinality(&field).into(),
                cardinality(&after).into(),
            );
            if field.name() == after.name() {
                check(
                    Rule::ProtoFieldJsonNameChanged,
                    "json_name",
                    field.json_name().into(),
                    after.json_name().into(),
                );
            }
            check(
                Rule::ProtoFieldOneofChanged,
                "oneof",
                oneof(&field).unwrap_or_else(|| "none".into()),
                oneof(&after).unwrap_or_else(|| "none".into()),
            );
        }
        for range in was.reserved_ranges() {
            let still = now
                .reserved_ranges()
                .any(|r| r.start <= range.start && range.end <= r.end);
            if !still {
                self.add(
                    Rule::ProtoReservedRemoved,
                    operation,
                    name,
                    name,
                    format!(
                        "{name}: field numbers {}..{} are no longer reserved",
                        range.start,
                        range.end - 1
                    ),
                );
            }
        }
        for reserved in was.reserved_names() {
            if !now.reserved_names().any(|r| r == reserved) {
                self.add(
                    Rule::ProtoReservedRemoved,
                    operation,
                    name,
                    name,
                    format!("{name}: field name {reserved:?} is no longer reserved"),
                );
            }
        }
    }

    fn enumeration(&mut self, was: &EnumDescriptor, now: &EnumDescriptor, operation: Option<&str>) {
        let name = was.full_name();
        for value in was.values() {
            let number = value.number();
            match now.get_value(number) {
                None if !now.reserved_ranges().any(|r| r.contains(&number)) => self.add(
                    Rule::ProtoEnumValueRemoved,
                    operation,
                    &format!("{name}.{}", value.name()),
                    name,
                    format!(
                        "{name}: value {} = {number} was removed without reserving its number",
                        value.name()
                    ),
                ),
                Some(after) if after.name() != value.name() => self.add(
                    Rule::ProtoEnumValueRenamed,
                    operation,
                    &format!("{name}.{}", value.name()),
                    &format!("{name}.{}", after.name()),
                    format!(
                        "{name}: value {number} is now {} (was {})",
                        after.name(),
                        value.name()
                    ),
                ),
                _ => {}
            }
        }
    }
}
