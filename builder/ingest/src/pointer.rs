//! JSON pointer helpers (RFC 6901).

/// Escapes one reference token: `~` -> `~0`, `/` -> `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends one token to a pointer.
pub fn push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape(token))
}

/// Splits a pointer into unescaped tokens. `""` has none.
pub fn tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Decodes `%XX` escapes in a URI fragment; invalid escapes are kept as is.
pub use aip_ir::percent_decode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = push(&push("", "paths"), "/users/{id}");
        assert_eq!(p, "/paths/~1users~1{id}");
        assert_eq!(tokens(&p), vec!["paths", "/users/{id}"]);
        assert!(tokens("").is_empty());
    }

    #[test]
    fn decodes_fragments() {
        assert_eq!(percent_decode("/a%7Bb%7D"), "/a{b}");
        assert_eq!(percent_decode("/a%zz%4"), "/a%zz%4");
    }
}
