//! Turning spec-derived text into safe Rust: identifiers and literals.
//!
//! Nothing from a spec is pasted into generated code except through these
//! functions (and JSON/TOML serialisers), so no spec content can change what
//! the generated code does.

use std::collections::HashSet;

/// Rust keywords (strict, reserved and edition-2024 ones).
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "union",
];

/// Keywords that cannot be raw identifiers (`r#self` is invalid).
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// A `snake_case` Rust identifier for `text`: camelCase is split, anything
/// outside `[A-Za-z0-9]` becomes `_`, a leading digit gets an `op_` prefix,
/// keywords become raw identifiers (or get a `_` suffix where Rust forbids
/// raw ones).
pub fn snake_ident(text: &str) -> String {
    let words = aip_ir::words(text);
    let mut ident = if words.is_empty() {
        "op".to_string()
    } else {
        words.join("_")
    };
    if ident.as_bytes()[0].is_ascii_digit() {
        ident.insert_str(0, "op_");
    }
    if NOT_RAW.contains(&ident.as_str()) {
        ident.push('_');
    } else if KEYWORDS.contains(&ident.as_str()) {
        ident.insert_str(0, "r#");
    }
    ident
}

/// Hands out identifiers that are unique within one scope: a clash gets
/// `_2`, `_3`, ... in order of first use.
#[derive(Default)]
pub struct IdentScope {
    taken: HashSet<String>,
}

impl IdentScope {
    /// A unique snake-case identifier for `text`.
    pub fn snake(&mut self, text: &str) -> String {
        let base = snake_ident(text);
        let mut ident = base.clone();
        let mut n = 2;
        while !self
            .taken
            .insert(ident.trim_start_matches("r#").to_string())
        {
            ident = format!("{}_{n}", base.trim_start_matches("r#"));
            n += 1;
        }
        ident
    }
}

/// A Rust string literal (with quotes) holding exactly `text`.
pub fn rust_str(text: &str) -> String {
    // `Debug` for str yields a valid literal: quotes, backslashes, control
    // and non-printable characters are escaped.
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(
            snake_ident("createChatCompletion"),
            "create_chat_completion"
        );
        assert_eq!(snake_ident("type"), "r#type");
        assert_eq!(snake_ident("self"), "self_");
        assert_eq!(snake_ident("Self"), "self_");
        assert_eq!(snake_ident("123go"), "op_123go");
        assert_eq!(snake_ident("über-größe"), "ber_gr_e");
        assert_eq!(snake_ident("***"), "op");
        assert_eq!(snake_ident("a/b{c}"), "a_b_c");
        assert_eq!(snake_ident("async"), "r#async");
    }

    #[test]
    fn collisions_are_numbered() {
        let mut scope = IdentScope::default();
        assert_eq!(scope.snake("getUser"), "get_user");
        assert_eq!(scope.snake("get_user"), "get_user_2");
        assert_eq!(scope.snake("get-user"), "get_user_3");
        assert_eq!(scope.snake("type"), "r#type");
        assert_eq!(scope.snake("TYPE"), "type_2");
    }

    #[test]
    fn literals_cannot_break_out() {
        let nasty = "\"); std::process::exit(1); //\n*/ \r \u{0} }";
        let lit = rust_str(nasty);
        let parsed: syn::LitStr = syn::parse_str(&lit).expect("valid literal");
        assert_eq!(parsed.value(), nasty);
    }
}
