//! Operations, intents, credentials and hosts: what the adapter's callers
//! name and configure. Operations are matched by id; an id that is gone
//! whose endpoint (method and path, or gRPC method) is still there under a
//! new id is one renamed operation, not a removal and an addition.

use std::collections::{BTreeMap, BTreeSet};

use aip_ir::{Api, Operation, SecurityScheme, SpecFormat};

use crate::schema::{self, Direction};
use crate::{Changes, Rule};

/// Compares the adapter-level and per-operation contract.
pub(crate) fn compare(old: &Api, new: &Api, changes: &mut Changes) {
    compare_docs(old, new, changes);
    compare_hosts(old, new, changes);
    compare_schemes(old, new, changes);
    let new_by_id: BTreeMap<&str, &Operation> = new
        .operations
        .iter()
        .map(|op| (op.id.as_str(), op))
        .collect();
    let old_ids: BTreeSet<&str> = old.operations.iter().map(|op| op.id.as_str()).collect();
    let mut gone = Vec::new();
    for op in &old.operations {
        match new_by_id.get(op.id.as_str()) {
            Some(now) => compare_pair(old, new, op, now, changes),
            None => gone.push(op),
        }
    }
    let mut added: Vec<&Operation> = new
        .operations
        .iter()
        .filter(|op| !old_ids.contains(op.id.as_str()))
        .collect();
    for op in gone {
        let renamed = added
            .iter()
            .position(|n| n.method == op.method && n.path == op.path);
        match renamed {
            Some(i) => {
                let now = added.remove(i);
                changes.add(
                    Rule::OperationIdChanged,
                    Some(&op.id),
                    Some(changes.old_at(&op.pointer)),
                    Some(changes.new_at(&now.pointer)),
                    format!(
                        "{} {} is now operation {:?} (was {:?})",
                        op.method.as_str(),
                        op.path,
                        now.id,
                        op.id
                    ),
                );
                compare_pair(old, new, op, now, changes);
            }
            None => changes.add(
                Rule::OperationRemoved,
                Some(&op.id),
                Some(changes.old_at(&op.pointer)),
                None,
                format!(
                    "operation {:?} ({} {}) was removed",
                    op.id,
                    op.method.as_str(),
                    op.path
                ),
            ),
        }
    }
    for op in added {
        changes.add(
            Rule::OperationAdded,
            Some(&op.id),
            None,
            Some(changes.new_at(&op.pointer)),
            format!(
                "operation {:?} ({} {}) was added",
                op.id,
                op.method.as_str(),
                op.path
            ),
        );
    }
}

fn compare_docs(old: &Api, new: &Api, changes: &mut Changes) {
    if old.title != new.title || old.description != new.description {
        changes.add(
            Rule::DescriptionChanged,
            None,
            Some(changes.old_at(info_pointer(old))),
            Some(changes.new_at(info_pointer(new))),
            "the API's title or description changed".into(),
        );
    }
}

fn info_pointer(api: &Api) -> &'static str {
    match api.source.format {
        SpecFormat::Protobuf => "",
        _ => "/info",
    }
}

fn compare_hosts(old: &Api, new: &Api, changes: &mut Changes) {
    let before: BTreeSet<String> = old.vendor_hosts().into_iter().collect();
    let after: BTreeSet<String> = new.vendor_hosts().into_iter().collect();
    let servers = |api: &Api| match api.source.format {
        SpecFormat::Swagger2 => "/host",
        SpecFormat::Protobuf => "",
        _ => "/servers",
    };
    for host in after.difference(&before) {
        changes.add(
            Rule::VendorHostAdded,
            None,
            None,
            Some(changes.new_at(servers(new))),
            format!("the adapter may now call {host} (permissions.net)"),
        );
    }
    for host in before.difference(&after) {
        changes.add(
            Rule::VendorHostRemoved,
            None,
            Some(changes.old_at(servers(old))),
            None,
            format!("the adapter no longer calls {host}"),
        );
    }
}

fn scheme_pointer(api: &Api, name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    match api.source.format {
        SpecFormat::Swagger2 => format!("/securityDefinitions/{escaped}"),
        _ => format!("/components/securitySchemes/{escaped}"),
    }
}

fn scheme_kind(scheme: &SecurityScheme) -> &'static str {
    match scheme {
        SecurityScheme::ApiKey { .. } => "API key",
        SecurityScheme::Basic => "basic",
        SecurityScheme::Bearer { .. } => "bearer token",
        SecurityScheme::Unsupported { .. } => "unsupported",
    }
}

fn compare_schemes(old: &Api, new: &Api, changes: &mut Changes) {
    for (name, before) in &old.security_schemes {
        let Some(after) = new.security_schemes.get(name) else {
            continue; // an operation needing it reports its requirement
        };
        let places = (
            Some(changes.old_at(&scheme_pointer(old, name))),
            Some(changes.new_at(&scheme_pointer(new, name))),
        );
        match (before, after) {
            (
                SecurityScheme::ApiKey {
                    name: was,
                    location: was_in,
                },
                SecurityScheme::ApiKey {
                    name: now,
                    location: now_in,
                },
            ) if was != now || was_in != now_in => changes.add(
                Rule::SecuritySchemePlacementChanged,
                None,
                places.0,
                places.1,
                format!(
                    "credential {name:?} now goes in {now_in:?} {now:?} (was {was_in:?} {was:?})"
                ),
            ),
            _ if scheme_kind(before) != scheme_kind(after) => changes.add(
                Rule::SecuritySchemeKindChanged,
                None,
                places.0,
                places.1,
                format!(
                    "credential {name:?} is now a {} (was a {})",
                    scheme_kind(after),
                    scheme_kind(before)
                ),
            ),
            _ => {}
        }
    }
}

fn compare_pair(
    old_api: &Api,
    new_api: &Api,
    old: &Operation,
    new: &Operation,
    changes: &mut Changes,
) {
    let id = new.id.as_str();
    let (at_old, at_new) = (old.pointer.as_str(), new.pointer.as_str());
    if old.intent != new.intent {
        changes.between(
            Rule::OperationIntentChanged,
            id,
            at_old,
            at_new,
            format!("intent {:?} is now {:?}", old.intent, new.intent),
        );
    }
    if (old.method, &old.path) != (new.method, &new.path) && old.id == new.id {
        changes.between(
            Rule::OperationEndpointChanged,
            id,
            at_old,
            at_new,
            format!(
                "the adapter now calls {} {} (was {} {})",
                new.method.as_str(),
                new.path,
                old.method.as_str(),
                old.path
            ),
        );
    }
    if !old.deprecated && new.deprecated {
        changes.between(
            Rule::OperationDeprecated,
            id,
            at_old,
            at_new,
            "now deprecated".into(),
        );
    }
    if old.summary != new.summary || old.description != new.description {
        changes.between(
            Rule::DescriptionChanged,
            id,
            at_old,
            at_new,
            "summary or description changed".into(),
        );
    }
    if let (Some(was), Some(now)) = (&old.rpc, &new.rpc)
        && was.kind() != now.kind()
    {
        changes.between(
            Rule::RpcStreamingChanged,
            id,
            at_old,
            at_new,
            format!("the method is now {} (was {})", now.kind(), was.kind()),
        );
    }
    compare_parameters(old, new, changes);
    compare_security(old, new, changes);
    schema::compare(
        Direction::Input,
        side(old_api, old, aip_ir::input_schema_root(old)),
        side(new_api, new, aip_ir::input_schema_root(new)),
        id,
        changes,
    );
    schema::compare(
        Direction::Output,
        side(old_api, old, aip_ir::output_schema_root(old)),
        side(new_api, new, aip_ir::output_schema_root(new)),
        id,
        changes,
    );
}

fn side<'a>(api: &'a Api, op: &Operation, root: serde_json::Value) -> schema::Side<'a> {
    schema::Side {
        defs: &api.schemas,
        root,
        pointer: op.pointer.clone(),
    }
}

/// How the adapter sends each parameter its callers name by input key.
fn compare_parameters(old: &Operation, new: &Operation, changes: &mut Changes) {
    for before in &old.parameters {
        let Some(after) = new
            .parameters
            .iter()
            .find(|p| p.input_key == before.input_key)
        else {
            continue; // the input schema reports the property
        };
        let wire = |p: &aip_ir::Parameter| {
            (
                p.name.clone(),
                p.location,
                p.style,
                p.explode,
                p.allow_reserved,
            )
        };
        if wire(before) != wire(after) {
            changes.add(
                Rule::ParameterSerializationChanged,
                Some(&new.id),
                Some(changes.old_at(&old.pointer)),
                Some(changes.new_at(&new.pointer)),
                format!(
                    "input {:?} is now sent as {:?} {:?} ({:?}, explode {}) (was {:?} {:?}, {:?}, explode {})",
                    after.input_key,
                    after.location,
                    after.name,
                    after.style,
                    after.explode,
                    before.location,
                    before.name,
                    before.style,
                    before.explode
                ),
            );
        }
    }
}

/// Security alternatives as sets of scheme names; no security at all is
/// one alternative that needs nothing.
fn alternatives(op: &Operation) -> Vec<BTreeSet<&str>> {
    if op.security.is_empty() {
        return vec![BTreeSet::new()];
    }
    op.security
        .iter()
        .map(|alt| alt.iter().map(String::as_str).collect())
        .collect()
}

fn compare_security(old: &Operation, new: &Operation, changes: &mut Changes) {
    let before = alternatives(old);
    let after = alternatives(new);
    let show = |alt: &BTreeSet<&str>| {
        if alt.is_empty() {
            "no credential".to_string()
        } else {
            alt.iter().copied().collect::<Vec<_>>().join(" + ")
        }
    };
    for alt in &before {
        if !after.iter().any(|b| b.is_subset(alt)) {
            changes.add(
                Rule::SecurityRequirementAdded,
                Some(&new.id),
                Some(changes.old_at(&old.pointer)),
                Some(changes.new_at(&new.pointer)),
                format!(
                    "callers with {} are no longer enough: it needs {}",
                    show(alt),
                    after.iter().map(show).collect::<Vec<_>>().join(" or ")
                ),
            );
        }
    }
    for alt in &after {
        if !before.contains(alt) && !before.iter().any(|a| a.is_subset(alt)) {
            changes.add(
                Rule::SecurityAlternativeAdded,
                Some(&new.id),
                Some(changes.old_at(&old.pointer)),
                Some(changes.new_at(&new.pointer)),
                format!("it also accepts {}", show(alt)),
            );
        }
    }
}
