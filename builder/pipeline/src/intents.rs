//! Intent overrides: the platform routes intents (`summarize`,
//! `translate`, ...) to operations; by default each operation's intent is
//! its id in kebab case, and a build may name others.

use std::collections::BTreeMap;

use aip_ir::Api;

use crate::PipelineError;

/// Longest intent name.
const MAX_INTENT_LEN: usize = 63;

/// Whether `name` is an intent name: lowercase words of letters and
/// digits joined by `-` or `.` (`summarize`, `text.translate-v2`).
pub fn is_valid_intent(name: &str) -> bool {
    name.len() <= MAX_INTENT_LEN
        && name.split(['.', '-']).all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Sets the intents named in `overrides` (operation id -> intent). Every
/// operation must exist, every intent must be a valid name, and no two
/// operations may end up with the same intent.
pub fn apply_intent_overrides(
    api: &mut Api,
    overrides: &BTreeMap<String, String>,
) -> Result<(), PipelineError> {
    for (operation, intent) in overrides {
        if !is_valid_intent(intent) {
            return Err(PipelineError::Argument(format!(
                "intent {intent:?} for operation {operation:?} is not an intent name \
                 (lowercase letters and digits in words joined by - or ., at most {MAX_INTENT_LEN})"
            )));
        }
        let Some(op) = api.operations.iter_mut().find(|o| &o.id == operation) else {
            let known: Vec<&str> = api.operations.iter().map(|o| o.id.as_str()).collect();
            return Err(PipelineError::Argument(format!(
                "intent override for operation {operation:?}: the spec has no such operation (it has: {})",
                summarize(&known)
            )));
        };
        op.intent.clone_from(intent);
    }
    for (operation, intent) in overrides {
        if let Some(other) = api
            .operations
            .iter()
            .find(|o| &o.intent == intent && &o.id != operation)
        {
            return Err(PipelineError::Argument(format!(
                "intent {intent:?} would route to two operations, {operation:?} and {:?}; give each its own intent",
                other.id
            )));
        }
    }
    Ok(())
}

fn summarize(names: &[&str]) -> String {
    const SHOWN: usize = 12;
    let mut text = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(", … {} more", names.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_names() {
        for good in ["summarize", "text.translate-v2", "a1"] {
            assert!(is_valid_intent(good), "{good}");
        }
        for bad in [
            "",
            "Summarize",
            "1st",
            "a..b",
            "a-",
            "x y",
            "\"; drop",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_intent(bad), "{bad}");
        }
    }

    fn api() -> Api {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/specs/e2e-vendor.yaml");
        aip_ingest::ingest(
            aip_ingest::SpecSource::File(spec),
            &aip_ingest::IngestOptions::default(),
        )
        .expect("fixture ingests")
        .api
    }

    fn intent_of<'a>(api: &'a Api, op: &str) -> &'a str {
        api.operations
            .iter()
            .find(|o| o.id == op)
            .map_or("", |o| o.intent.as_str())
    }

    #[test]
    fn overrides_replace_only_the_named_intents() {
        let mut api = api();
        assert_eq!(intent_of(&api, "search"), "search");
        let overrides = BTreeMap::from([("search".to_string(), "find.items".to_string())]);
        apply_intent_overrides(&mut api, &overrides).expect("applies");
        assert_eq!(intent_of(&api, "search"), "find.items");
        assert_eq!(intent_of(&api, "getItem"), "get-item");
    }

    #[test]
    fn unknown_operations_bad_names_and_collisions_are_refused() {
        let cases = [
            ("nope", "summarize", "no such operation (it has: getItem"),
            ("search", "Bad Name", "is not an intent name"),
            (
                "search",
                "get-item",
                "would route to two operations, \"search\" and \"getItem\"",
            ),
        ];
        for (op, intent, expected) in cases {
            let mut api = api();
            let overrides = BTreeMap::from([(op.to_string(), intent.to_string())]);
            let err = apply_intent_overrides(&mut api, &overrides)
                .expect_err("refused")
                .to_string();
            assert!(err.contains(expected), "{op}={intent}: {err}");
        }
    }
}
