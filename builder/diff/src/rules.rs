//! Every rule the diff applies: its stable id, severity and the bump it
//! asks for. The table is the documentation (`docs/diff-rules.md` is
//! checked against it).

use serde::Serialize;

/// How a change affects the adapter's callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A caller that worked before can fail now.
    Breaking,
    /// Callers keep working.
    NonBreaking,
    /// Only documentation changed.
    Docs,
}

impl Severity {
    /// `breaking`, `non-breaking` or `docs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Breaking => "breaking",
            Severity::NonBreaking => "non-breaking",
            Severity::Docs => "docs",
        }
    }
}

/// The semantic-versioning bump a set of changes asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bump {
    /// The contracts are identical.
    None,
    /// Only documentation or internal detail changed.
    Patch,
    /// Something was added, nothing broke.
    Minor,
    /// Something broke.
    Major,
}

impl Bump {
    /// `none`, `patch`, `minor` or `major`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

macro_rules! rules {
    ($( $variant:ident = $id:literal, $severity:ident, $bump:ident, $doc:literal; )*) => {
        /// A rule of the diff.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( #[doc = $doc] $variant, )*
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$( Rule::$variant, )*];

            /// The stable id (`input-property-removed`).
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            /// How the change affects callers.
            pub fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$severity, )* }
            }

            /// The bump the change asks for.
            pub fn bump(self) -> Bump {
                match self { $( Rule::$variant => Bump::$bump, )* }
            }

            /// What the rule detects.
            pub fn doc(self) -> &'static str {
                match self { $( Rule::$variant => $doc, )* }
            }
        }
    };
}

rules! {
    OperationRemoved = "operation-removed", Breaking, Major, "An operation is gone: callers naming it fail.";
    OperationAdded = "operation-added", NonBreaking, Minor, "A new operation.";
    OperationIdChanged = "operation-id-changed", Breaking, Major, "The same endpoint (method and path, or gRPC method) under another operation id: callers name operations by id.";
    OperationIntentChanged = "operation-intent-changed", Breaking, Major, "The intent the platform routes to the operation changed.";
    OperationEndpointChanged = "operation-endpoint-changed", NonBreaking, Patch, "The vendor method or path behind an operation changed; the adapter calls the new one and its callers see no difference.";
    OperationDeprecated = "operation-deprecated", Docs, Patch, "The spec now marks the operation deprecated.";
    RpcStreamingChanged = "rpc-streaming-changed", Breaking, Major, "A gRPC method's streaming kind (unary, server, client, bidi) changed.";
    InputPropertyRemoved = "input-property-removed", Breaking, Major, "An input property (parameter or body field) is gone: the adapter refuses callers that still send it.";
    InputRequiredPropertyAdded = "input-required-property-added", Breaking, Major, "A new required input property: callers that do not send it are refused.";
    InputPropertyAdded = "input-property-added", NonBreaking, Minor, "A new optional input property.";
    InputPropertyBecameRequired = "input-property-became-required", Breaking, Major, "An optional input property is now required.";
    InputPropertyBecameOptional = "input-property-became-optional", NonBreaking, Minor, "A required input property is now optional.";
    InputTypeChanged = "input-type-changed", Breaking, Major, "An input value's type changed so that values valid before are refused.";
    InputTypeWidened = "input-type-widened", NonBreaking, Minor, "An input value accepts more types than before.";
    InputFormatChanged = "input-format-changed", Breaking, Major, "An input value's format was added or changed.";
    InputEnumValueRemoved = "input-enum-value-removed", Breaking, Major, "An input enum lost a value callers may send.";
    InputEnumValueAdded = "input-enum-value-added", NonBreaking, Minor, "An input enum accepts a new value.";
    InputEnumAdded = "input-enum-added", Breaking, Major, "An input value is now restricted to an enum.";
    InputConstraintTightened = "input-constraint-tightened", Breaking, Major, "An input constraint (length, range, items, pattern, additional properties) refuses values it accepted.";
    InputConstraintLoosened = "input-constraint-loosened", NonBreaking, Minor, "An input constraint accepts more than before.";
    InputDefaultChanged = "input-default-changed", NonBreaking, Patch, "The default the vendor applies when an input is omitted changed.";
    InputVariantsChanged = "input-variants-changed", Breaking, Major, "An input `anyOf`/`oneOf` lost an alternative.";
    InputVariantAdded = "input-variant-added", NonBreaking, Minor, "An input `anyOf`/`oneOf` gained an alternative.";
    OutputPropertyRemoved = "output-property-removed", Breaking, Major, "An output property is gone: callers reading it find nothing.";
    OutputPropertyBecameOptional = "output-property-became-optional", Breaking, Major, "An output property callers could count on may now be absent.";
    OutputPropertyAdded = "output-property-added", NonBreaking, Minor, "A new output property.";
    OutputPropertyBecameRequired = "output-property-became-required", NonBreaking, Patch, "An output property is now always present.";
    OutputTypeChanged = "output-type-changed", Breaking, Major, "An output value's type changed so that callers may receive values of a type they did not before.";
    OutputTypeNarrowed = "output-type-narrowed", NonBreaking, Patch, "An output value has fewer possible types than before.";
    OutputFormatChanged = "output-format-changed", Breaking, Major, "An output value's format was removed or changed.";
    OutputEnumValueAdded = "output-enum-value-added", NonBreaking, Minor, "An output enum has a new value (callers matching every value should handle it).";
    OutputEnumValueRemoved = "output-enum-value-removed", NonBreaking, Patch, "An output enum no longer has a value.";
    OutputConstraintChanged = "output-constraint-changed", NonBreaking, Patch, "An output constraint (length, range, items, pattern) changed.";
    OutputVariantsChanged = "output-variants-changed", Breaking, Major, "An output `anyOf`/`oneOf` gained an alternative callers do not expect.";
    OutputVariantRemoved = "output-variant-removed", NonBreaking, Patch, "An output `anyOf`/`oneOf` lost an alternative.";
    ParameterSerializationChanged = "parameter-serialization-changed", NonBreaking, Patch, "How the adapter sends a parameter to the vendor (wire name, location, style, explode) changed; its callers see no difference.";
    SecurityRequirementAdded = "security-requirement-added", Breaking, Major, "An operation needs a credential that was not needed before.";
    SecurityAlternativeAdded = "security-alternative-added", NonBreaking, Minor, "An operation accepts another credential.";
    SecuritySchemeKindChanged = "security-scheme-kind-changed", Breaking, Major, "A credential changed kind (API key, basic, bearer): the configured credential no longer fits.";
    SecuritySchemePlacementChanged = "security-scheme-placement-changed", NonBreaking, Patch, "Where the adapter puts a credential (header, query, cookie, name) changed; its callers see no difference.";
    VendorHostAdded = "vendor-host-added", NonBreaking, Minor, "The adapter may call a new host (`permissions.net` grows: review it).";
    VendorHostRemoved = "vendor-host-removed", NonBreaking, Patch, "The adapter no longer calls a host.";
    ProtoFieldRemoved = "proto-field-removed", Breaking, Major, "A message field number is gone and not reserved: it may be reused with another meaning.";
    ProtoFieldRenamed = "proto-field-renamed", Breaking, Major, "A field number has a new name: its JSON name changes.";
    ProtoFieldTypeChanged = "proto-field-type-changed", Breaking, Major, "A field's type changed: its wire encoding and JSON differ.";
    ProtoFieldCardinalityChanged = "proto-field-cardinality-changed", Breaking, Major, "A field changed between singular, optional, repeated and map.";
    ProtoFieldJsonNameChanged = "proto-field-json-name-changed", Breaking, Major, "A field's `json_name` changed.";
    ProtoFieldOneofChanged = "proto-field-oneof-changed", Breaking, Major, "A field moved into, out of or between oneofs.";
    ProtoReservedRemoved = "proto-reserved-removed", Breaking, Major, "A reserved field number or name is no longer reserved.";
    ProtoEnumValueRemoved = "proto-enum-value-removed", Breaking, Major, "An enum value number is gone.";
    ProtoEnumValueRenamed = "proto-enum-value-renamed", Breaking, Major, "An enum value number has a new name: its JSON name changes.";
    DescriptionChanged = "description-changed", Docs, Patch, "A title, summary or description changed.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case_and_severity_matches_the_bump() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "a rule id is used twice");
        for rule in Rule::ALL {
            assert!(
                rule.id()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                rule.id()
            );
            match rule.severity() {
                Severity::Breaking => assert_eq!(rule.bump(), Bump::Major, "{}", rule.id()),
                Severity::NonBreaking => assert!(
                    matches!(rule.bump(), Bump::Minor | Bump::Patch),
                    "{}",
                    rule.id()
                ),
                Severity::Docs => assert_eq!(rule.bump(), Bump::Patch, "{}", rule.id()),
            }
        }
    }
}
