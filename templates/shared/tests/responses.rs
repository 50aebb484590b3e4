//! Turning a vendor's successful answer into the adapter's output JSON.

use aip_adapter_runtime::response::output_json;

#[test]
fn json_answers_pass_through_as_json() {
    assert_eq!(
        output_json(Some("application/json"), br#"{"a": [1, 2]}"#),
        r#"{"a":[1,2]}"#
    );
    assert_eq!(
        output_json(Some("Application/JSON; charset=utf-8"), b"[true]"),
        "[true]"
    );
    assert_eq!(
        output_json(Some("application/problem+json"), br#"{"x":1}"#),
        r#"{"x":1}"#
    );
}

#[test]
fn empty_answers_are_null() {
    assert_eq!(output_json(Some("application/json"), b""), "null");
    assert_eq!(output_json(None, b""), "null");
}

#[test]
fn anything_else_is_a_json_string() {
    assert_eq!(
        output_json(Some("text/plain"), b"hello \"there\""),
        r#""hello \"there\"""#
    );
    assert_eq!(
        output_json(None, br#"{"looks":"like json"}"#),
        r#""{\"looks\":\"like json\"}""#,
        "no content type, no parsing"
    );
    assert_eq!(
        output_json(Some("application/json"), b"{broken"),
        r#""{broken""#,
        "malformed JSON is kept as text"
    );
    assert_eq!(
        output_json(Some("application/octet-stream"), &[0x66, 0xff, 0x6f]),
        "\"f\u{fffd}o\"",
        "bytes that are not UTF-8 are replaced"
    );
}
