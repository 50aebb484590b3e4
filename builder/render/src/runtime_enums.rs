//! The runtime's enums (`templates/shared/src/runtime/spec.rs`), mirrored
//! here so the render model names their variants as types, never as
//! strings. Each serialises to its variant's name, which the templates
//! place after the enum's path; a test checks every mirror against the
//! runtime's own declaration, so a typo fails here, not in a golden compile.

use serde::Serialize;

/// `spec::Location`: where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Location {
    /// Path segment.
    Path,
    /// Query string.
    Query,
    /// Header.
    Header,
    /// Cookie.
    Cookie,
}

/// `spec::Style`: how a parameter is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Style {
    /// `simple`
    Simple,
    /// `matrix`
    Matrix,
    /// `label`
    Label,
    /// `form`
    Form,
    /// `spaceDelimited`
    SpaceDelimited,
    /// `pipeDelimited`
    PipeDelimited,
    /// `deepObject`
    DeepObject,
}

/// `spec::Kind`: the JSON type of a parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// true/false.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// Anything.
    Any,
}

/// `spec::Encoding`: how the `body` input is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    /// JSON text.
    Json,
    /// `application/x-www-form-urlencoded`.
    FormUrlEncoded,
    /// `multipart/form-data`.
    Multipart,
    /// A string sent as is.
    Text,
    /// Bytes.
    Binary,
}

/// `spec::SchemeKind`: how a credential is placed (the name argument of
/// `Header`, `Query` and `Cookie` travels beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SchemeKind {
    /// A header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
    /// `Authorization: Basic`.
    Basic,
    /// `Authorization: Bearer`.
    Bearer,
    /// Not something an adapter can apply.
    Unsupported,
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// The runtime's enum declarations: enum name -> variant names.
    fn runtime_enums() -> BTreeMap<String, BTreeSet<String>> {
        let source = include_str!("../../../templates/shared/src/runtime/spec.rs");
        let file = syn::parse_file(source).expect("spec.rs parses");
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Enum(e) => Some((
                    e.ident.to_string(),
                    e.variants.iter().map(|v| v.ident.to_string()).collect(),
                )),
                _ => None,
            })
            .collect()
    }

    fn names<T: Serialize>(values: &[T]) -> BTreeSet<String> {
        values
            .iter()
            .map(|v| {
                serde_json::to_value(v)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn every_mirror_matches_the_runtime_variant_for_variant() {
        use Encoding as E;
        use Kind as K;
        use Location as L;
        use SchemeKind as S;
        use Style as St;
        let runtime = runtime_enums();
        let mirrors = [
            (
                "Location",
                names(&[L::Path, L::Query, L::Header, L::Cookie]),
            ),
            (
                "Style",
                names(&[
                    St::Simple,
                    St::Matrix,
                    St::Label,
                    St::Form,
                    St::SpaceDelimited,
                    St::PipeDelimited,
                    St::DeepObject,
                ]),
            ),
            (
                "Kind",
                names(&[
                    K::String,
                    K::Integer,
                    K::Number,
                    K::Boolean,
                    K::Array,
                    K::Object,
                    K::Any,
                ]),
            ),
            (
                "Encoding",
                names(&[E::Json, E::FormUrlEncoded, E::Multipart, E::Text, E::Binary]),
            ),
            (
                "SchemeKind",
                names(&[
                    S::Header,
                    S::Query,
                    S::Cookie,
                    S::Basic,
                    S::Bearer,
                    S::Unsupported,
                ]),
            ),
        ];
        for (name, mirror) in mirrors {
            assert_eq!(
                runtime.get(name),
                Some(&mirror),
                "the mirror of spec::{name} differs from the runtime's"
            );
        }
    }
}
