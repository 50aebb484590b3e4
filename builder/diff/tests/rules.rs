//! Each rule on a purpose-built pair: a small OpenAPI or protobuf spec and
//! one edit of it, with the rule the edit must trigger and the bump the
//! whole report must ask for.

// Setup failures are test failures.
#![allow(clippy::expect_used)]

use aip_diff::{Bump, Rule, diff};

const PETS: &str = r#"openapi: 3.0.3
info: {title: Pets, version: '1', description: Pet store}
servers: [{url: 'https://pets.example.com/v1'}]
security: [{key: []}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
    token: {type: http, scheme: bearer}
  schemas:
    Pet:
      type: object
      required: [id]
      properties:
        id: {type: integer, format: int64}
        name: {type: string, maxLength: 50, nullable: true, description: The name}
        kind: {type: string, enum: [cat, dog]}
        tags: {type: array, items: {type: string}}
        toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}], description: Favourite}
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string, maxLength: 50}
        kind: {type: string, enum: [dog, cat]}
        age: {type: integer, minimum: 0}
        toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}]}
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      parameters:
        - {name: limit, in: query, required: false, schema: {type: integer, maximum: 100, default: 20}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}}}}
    post:
      operationId: createPet
      requestBody: {required: true, content: {application/json: {schema: {$ref: '#/components/schemas/NewPet'}}}}
      responses:
        '201': {description: created, content: {application/json: {schema: {$ref: '#/components/schemas/Pet'}}}}
  /pets/{petId}:
    get:
      operationId: getPet
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        '200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Pet'}}}}
"#;

const PETS_PROTO: &str = r#"syntax = "proto3";
package pets.v1;
service Pets {
  rpc GetPet(GetPetRequest) returns (Pet);
  rpc WatchPets(WatchRequest) returns (stream Pet);
}
message GetPetRequest { int64 id = 1; }
message WatchRequest { string filter = 1; reserved 5; reserved "legacy"; }
message Pet {
  int64 id = 1;
  string name = 2;
  Kind kind = 3;
  oneof home { string address = 4; string shelter = 6; }
  repeated string tags = 7;
  string nick = 8 [json_name = "nickname"];
}
enum Kind { KIND_UNSPECIFIED = 0; CAT = 1; DOG = 2; }
"#;

/// Ingests `text` as `file` in a fresh folder.
fn ingest(file: &str, text: &str) -> aip_ir::Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(file);
    std::fs::write(&path, text).expect("write");
    let options = aip_ingest::IngestOptions {
        name: Some("pets".into()),
        ..Default::default()
    };
    aip_ingest::ingest(aip_ingest::SpecSource::File(path), &options)
        .unwrap_or_else(|e| panic!("{file} does not ingest: {e}\n{text}"))
        .api
}

/// `base` with `from` (which must occur exactly once) replaced by `to`.
fn edit(base: &str, from: &str, to: &str) -> String {
    assert_eq!(base.matches(from).count(), 1, "{from:?} must occur once");
    base.replacen(from, to, 1)
}

/// Asserts that the edit triggers `rule` and the report's bump is `bump`.
fn check(file: &str, base: &str, rule: Rule, bump: Bump, from: &str, to: &str) {
    let old = ingest(file, base);
    let new = ingest(file, &edit(base, from, to));
    let report = diff(&old, &new);
    let found: Vec<&str> = report.changes.iter().map(|c| c.rule.id()).collect();
    assert!(
        report.changes.iter().any(|c| c.rule == rule),
        "{from:?} -> {to:?}: no {} among {found:?}",
        rule.id()
    );
    assert_eq!(report.bump, bump, "{from:?} -> {to:?}: {found:?}");
    for change in &report.changes {
        assert!(
            change.old.is_some() || change.new.is_some(),
            "{} has no place",
            change.rule.id()
        );
    }
}

#[test]
fn an_unchanged_spec_has_no_changes_and_needs_no_bump() {
    for (file, text) in [("pets.yaml", PETS), ("pets.proto", PETS_PROTO)] {
        let report = diff(&ingest(file, text), &ingest(file, text));
        assert_eq!(report.changes, [], "{file}");
        assert_eq!(report.bump, Bump::None);
    }
}

#[test]
fn operations_are_matched_by_id_and_renames_by_endpoint() {
    use Bump::*;
    use Rule::*;
    let cases: &[(Rule, Bump, &str, &str)] = &[
        (
            OperationRemoved,
            Major,
            "    get:\n      operationId: getPet",
            "    delete:\n      operationId: deletePet",
        ),
        (
            OperationAdded,
            Minor,
            "  /pets/{petId}:\n",
            "  /pets/{petId}:\n    delete: {operationId: deletePet, parameters: [{name: petId, in: path, required: true, schema: {type: integer}}], responses: {'204': {description: gone}}}\n",
        ),
        (
            OperationIdChanged,
            Major,
            "operationId: getPet",
            "operationId: fetchPet",
        ),
        (
            OperationEndpointChanged,
            Patch,
            "  /pets/{petId}:",
            "  /animals/{petId}:",
        ),
        (
            OperationDeprecated,
            Patch,
            "operationId: getPet",
            "operationId: getPet\n      deprecated: true",
        ),
        (
            DescriptionChanged,
            Patch,
            "summary: List pets",
            "summary: List every pet",
        ),
        (
            DescriptionChanged,
            Patch,
            "description: Pet store",
            "description: The pet store",
        ),
    ];
    for (rule, bump, from, to) in cases {
        check("pets.yaml", PETS, *rule, *bump, from, to);
    }
}

#[test]
fn inputs_break_when_they_refuse_what_callers_sent() {
    use Bump::*;
    use Rule::*;
    let cases: &[(Rule, Bump, &str, &str)] = &[
        (
            InputPropertyRemoved,
            Major,
            "        age: {type: integer, minimum: 0}\n",
            "",
        ),
        (
            InputRequiredPropertyAdded,
            Major,
            "      required: [name]\n      properties:\n",
            "      required: [name, owner]\n      properties:\n        owner: {type: string}\n",
        ),
        (
            InputPropertyAdded,
            Minor,
            "        age: {type: integer, minimum: 0}\n",
            "        age: {type: integer, minimum: 0}\n        color: {type: string}\n",
        ),
        (
            InputPropertyBecameRequired,
            Major,
            "required: [name]",
            "required: [name, age]",
        ),
        (
            InputPropertyBecameOptional,
            Minor,
            "requestBody: {required: true",
            "requestBody: {required: false",
        ),
        (
            InputTypeChanged,
            Major,
            "age: {type: integer, minimum: 0}",
            "age: {type: string}",
        ),
        (
            InputTypeWidened,
            Minor,
            "age: {type: integer, minimum: 0}",
            "age: {type: number, minimum: 0}",
        ),
        (
            InputFormatChanged,
            Major,
            "name: {type: string, maxLength: 50}",
            "name: {type: string, format: email, maxLength: 50}",
        ),
        (
            InputEnumValueRemoved,
            Major,
            "enum: [dog, cat]",
            "enum: [dog]",
        ),
        (
            InputEnumValueAdded,
            Minor,
            "enum: [dog, cat]",
            "enum: [dog, cat, bird]",
        ),
        (
            InputEnumAdded,
            Major,
            "age: {type: integer, minimum: 0}",
            "age: {type: integer, minimum: 0, enum: [1, 2]}",
        ),
        (
            InputConstraintTightened,
            Major,
            "name: {type: string, maxLength: 50}",
            "name: {type: string, maxLength: 20}",
        ),
        (
            InputConstraintTightened,
            Major,
            "maximum: 100",
            "maximum: 10",
        ),
        (
            InputConstraintLoosened,
            Minor,
            "name: {type: string, maxLength: 50}",
            "name: {type: string, maxLength: 80}",
        ),
        (InputDefaultChanged, Patch, "default: 20", "default: 30"),
        (
            InputVariantsChanged,
            Major,
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}]}",
            "toy: {oneOf: [{type: string}, {type: integer}]}",
        ),
        (
            InputVariantAdded,
            Minor,
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}]}",
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}, {type: array, items: {type: string}}]}",
        ),
        (
            ParameterSerializationChanged,
            Patch,
            "{name: limit, in: query",
            "{name: limit, in: header",
        ),
    ];
    for (rule, bump, from, to) in cases {
        check("pets.yaml", PETS, *rule, *bump, from, to);
    }
}

#[test]
fn outputs_break_when_callers_may_receive_what_they_did_not_expect() {
    use Bump::*;
    use Rule::*;
    let cases: &[(Rule, Bump, &str, &str)] = &[
        (
            OutputPropertyRemoved,
            Major,
            "        tags: {type: array, items: {type: string}}\n",
            "",
        ),
        (
            OutputPropertyBecameOptional,
            Major,
            "required: [id]",
            "required: [tags]",
        ),
        (
            OutputPropertyAdded,
            Minor,
            "        tags: {type: array, items: {type: string}}\n",
            "        tags: {type: array, items: {type: string}}\n        color: {type: string}\n",
        ),
        (
            OutputPropertyBecameRequired,
            Patch,
            "required: [id]",
            "required: [id, tags]",
        ),
        (
            OutputTypeChanged,
            Major,
            "id: {type: integer, format: int64}",
            "id: {type: string, format: int64}",
        ),
        (
            OutputTypeNarrowed,
            Patch,
            "maxLength: 50, nullable: true,",
            "maxLength: 50,",
        ),
        (OutputFormatChanged, Major, "format: int64", "format: int32"),
        (
            OutputEnumValueAdded,
            Minor,
            "enum: [cat, dog]",
            "enum: [cat, dog, bird]",
        ),
        (
            OutputEnumValueRemoved,
            Patch,
            "enum: [cat, dog]",
            "enum: [cat]",
        ),
        (
            OutputConstraintChanged,
            Patch,
            "maxLength: 50, nullable",
            "maxLength: 60, nullable",
        ),
        (
            OutputVariantsChanged,
            Major,
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}], description",
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}, {type: number}], description",
        ),
        (
            OutputVariantRemoved,
            Patch,
            "toy: {oneOf: [{type: string}, {type: integer}, {type: boolean}], description",
            "toy: {oneOf: [{type: string}, {type: integer}], description",
        ),
    ];
    for (rule, bump, from, to) in cases {
        check("pets.yaml", PETS, *rule, *bump, from, to);
    }
}

#[test]
fn credentials_and_hosts() {
    use Bump::*;
    use Rule::*;
    let cases: &[(Rule, Bump, &str, &str)] = &[
        (
            SecurityRequirementAdded,
            Major,
            "security: [{key: []}]",
            "security: [{key: [], token: []}]",
        ),
        (
            SecurityAlternativeAdded,
            Minor,
            "security: [{key: []}]",
            "security: [{key: []}, {token: []}]",
        ),
        (
            SecuritySchemeKindChanged,
            Major,
            "key: {type: apiKey, in: header, name: X-Key}",
            "key: {type: http, scheme: basic}",
        ),
        (
            SecuritySchemePlacementChanged,
            Patch,
            "in: header, name: X-Key",
            "in: query, name: key",
        ),
        (
            VendorHostAdded,
            Minor,
            "servers: [{url: 'https://pets.example.com/v1'}]",
            "servers: [{url: 'https://pets.example.com/v1'}, {url: 'https://eu.pets.example.com/v1'}]",
        ),
        (
            VendorHostRemoved,
            Minor,
            "https://pets.example.com/v1",
            "https://api.pets.example.com/v1",
        ),
    ];
    for (rule, bump, from, to) in cases {
        check("pets.yaml", PETS, *rule, *bump, from, to);
    }
}

#[test]
fn an_intent_routed_elsewhere_breaks() {
    let old = ingest("pets.yaml", PETS);
    let mut new = old.clone();
    new.operations[0].intent = "pets.browse".into();
    let report = diff(&old, &new);
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    assert_eq!(report.changes[0].rule, Rule::OperationIntentChanged);
    assert_eq!(report.changes[0].operation.as_deref(), Some("listPets"));
    assert_eq!(report.bump, Bump::Major);
}

#[test]
fn protobuf_wire_and_json_rules() {
    use Bump::*;
    use Rule::*;
    let cases: &[(Rule, Bump, &str, &str)] = &[
        (
            RpcStreamingChanged,
            Major,
            "returns (stream Pet)",
            "returns (Pet)",
        ),
        (ProtoFieldRemoved, Major, "  string name = 2;\n", ""),
        (
            ProtoFieldRenamed,
            Major,
            "string name = 2;",
            "string title = 2;",
        ),
        (
            ProtoFieldTypeChanged,
            Major,
            "string name = 2;",
            "bytes name = 2;",
        ),
        (
            ProtoFieldCardinalityChanged,
            Major,
            "string name = 2;",
            "repeated string name = 2;",
        ),
        (
            ProtoFieldJsonNameChanged,
            Major,
            "json_name = \"nickname\"",
            "json_name = \"nick_name\"",
        ),
        (
            ProtoFieldOneofChanged,
            Major,
            "oneof home { string address = 4; string shelter = 6; }",
            "string address = 4; oneof home { string shelter = 6; }",
        ),
        (
            ProtoReservedRemoved,
            Major,
            " reserved 5; reserved \"legacy\";",
            "",
        ),
        (ProtoEnumValueRemoved, Major, " DOG = 2;", ""),
        (ProtoEnumValueRenamed, Major, "DOG = 2;", "HOUND = 2;"),
    ];
    for (rule, bump, from, to) in cases {
        check("pets.proto", PETS_PROTO, *rule, *bump, from, to);
    }
}

#[test]
fn a_reserved_number_is_a_json_change_not_a_wire_one() {
    let old = ingest("pets.proto", PETS_PROTO);
    let new = ingest(
        "pets.proto",
        &edit(PETS_PROTO, "string name = 2;", "reserved 2;"),
    );
    let rules: Vec<Rule> = diff(&old, &new).changes.iter().map(|c| c.rule).collect();
    assert!(rules.contains(&Rule::OutputPropertyRemoved), "{rules:?}");
    assert!(!rules.contains(&Rule::ProtoFieldRemoved), "{rules:?}");
}

#[test]
fn every_rule_has_a_case_here() {
    let source = include_str!("rules.rs");
    for rule in Rule::ALL {
        let variant = format!("{rule:?}");
        assert!(
            source.contains(&format!("{variant},"))
                || source.contains(&format!("Rule::{variant})")),
            "no case for {}",
            rule.id()
        );
    }
}

/// `docs/diff-rules.md` as the rule table says it (`AIP_UPDATE_DOCS=1`
/// rewrites it).
fn rules_document() -> String {
    let mut out = String::from(
        "# The rules of `aip-builder diff`\n\n\
         Generated from `builder/diff/src/rules.rs` (`AIP_UPDATE_DOCS=1 cargo test -p aip-diff --test rules`); \
         a test fails when they differ.\n\n\
         Severity is what the change means for callers of the adapter; the bump is what the\n\
         next version of the adapter must be: `major` if any change is breaking, else `minor`\n\
         if any asks for it (something added), else `patch`, else `none`.\n\n\
         | rule | severity | bump | what it finds |\n| --- | --- | --- | --- |\n",
    );
    for rule in Rule::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id(),
            rule.severity().as_str(),
            rule.bump().as_str(),
            rule.doc()
        ));
    }
    out
}

#[test]
fn docs_list_every_rule() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/diff-rules.md");
    let expected = rules_document();
    if std::env::var_os("AIP_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/diff-rules.md");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/diff-rules.md is out of date: AIP_UPDATE_DOCS=1 cargo test -p aip-diff --test rules"
    );
}
