//! Naming rules shared by every front end.

/// Whether `name` is a valid module name: 1 to 63 characters of lowercase
/// ASCII letters, digits and `-`, starting with a letter and not ending in `-`.
///
/// Module names become directory names, OCI repository components and crate
/// metadata, so nothing else (no `/`, `.`, `..`, upper case) is accepted.
pub fn is_valid_module_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The intent an operation is routed under: its id in kebab case, e.g.
/// `createChatCompletion` -> `create-chat-completion`, `get_users_by_id` ->
/// `get-users-by-id`. Characters outside `[a-z0-9]` become separators.
pub fn intent_for(operation_id: &str) -> String {
    let mut out = String::with_capacity(operation_id.len() + 4);
    let mut prev_lower_or_digit = false;
    for ch in operation_id.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower_or_digit {
                out.push('-');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower_or_digit = false;
        } else if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            out.push(ch);
            prev_lower_or_digit = true;
        } else {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            prev_lower_or_digit = false;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "operation".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert!(is_valid_module_name("openai"));
        assert!(is_valid_module_name("hf-tgi2"));
        for bad in [
            "", "../x", "Open", "1abc", "a/b", "a.b", "abc-", "-abc", "a b",
        ] {
            assert!(!is_valid_module_name(bad), "{bad:?} accepted");
        }
        assert!(!is_valid_module_name(&"a".repeat(64)));
    }

    #[test]
    fn intents_are_kebab_case() {
        assert_eq!(intent_for("createChatCompletion"), "create-chat-completion");
        assert_eq!(intent_for("get_users_by_id"), "get-users-by-id");
        assert_eq!(intent_for("Embeddings_Create"), "embeddings-create");
        assert_eq!(intent_for("v1/models.list"), "v1-models-list");
        assert_eq!(intent_for("__"), "operation");
        assert_eq!(intent_for("HTTPGet"), "httpget");
    }
}
