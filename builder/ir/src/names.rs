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

/// The lower-case ASCII words of an identifier-like text: camelCase is split
/// at lower-to-upper changes, anything outside `[A-Za-z0-9]` separates.
/// `createChatCompletion` -> `[create, chat, completion]`.
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower_or_digit = false;
    for ch in text.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower_or_digit {
                words.push(std::mem::take(&mut current));
            }
            current.push(ch.to_ascii_lowercase());
            prev_lower_or_digit = false;
        } else if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            current.push(ch);
            prev_lower_or_digit = true;
        } else {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower_or_digit = false;
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The intent an operation is routed under: its id in kebab case, e.g.
/// `createChatCompletion` -> `create-chat-completion`, `get_users_by_id` ->
/// `get-users-by-id`.
pub fn intent_for(operation_id: &str) -> String {
    let words = words(operation_id);
    if words.is_empty() {
        "operation".to_string()
    } else {
        words.join("-")
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
