//! Request bodies of every encoding, the server URL, and the input checks
//! that run before anything is sent.

mod support;

use aip_adapter_runtime::request::{BuildError, CallInput, Request, build};
use aip_adapter_runtime::spec::{Body, Encoding, Kind, Location, Style};
use support::{SERVER, build_with, header, operation, param};

fn with_body(
    media_type: &'static str,
    encoding: Encoding,
    required: bool,
    input: &str,
) -> Result<Request, BuildError> {
    let op = operation(
        Vec::new(),
        Some(Body {
            required,
            media_type,
            encoding,
        }),
        &[],
    );
    build_with(op, &[], input, &[])
}

fn body_text(request: &Request) -> String {
    String::from_utf8_lossy(request.body.as_deref().unwrap_or_default()).into_owned()
}

fn invalid_input(result: Result<Request, BuildError>) -> String {
    match result {
        Err(BuildError::InvalidInput(message)) => message,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn json_bodies_keep_the_spec_media_type() {
    let request = with_body(
        "application/merge-patch+json",
        Encoding::Json,
        true,
        r#"{"body":{"a":[1,"x"]}}"#,
    )
    .expect("builds");
    assert_eq!(
        header(&request, "content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(body_text(&request), r#"{"a":[1,"x"]}"#);
    assert_eq!(header(&request, "content-length"), Some("13"));
    assert_eq!(request.method, "POST");
}

#[test]
fn form_bodies_repeat_arrays_and_encode_everything() {
    let request = with_body(
        "application/x-www-form-urlencoded",
        Encoding::FormUrlEncoded,
        true,
        r#"{"body":{"name":"a b&c","tag":["x","y"],"n":3}}"#,
    )
    .expect("builds");
    assert_eq!(
        body_text(&request),
        "n=3&name=a%20b%26c&tag=x&tag=y",
        "members in key order"
    );
    let message = invalid_input(with_body(
        "application/x-www-form-urlencoded",
        Encoding::FormUrlEncoded,
        true,
        r#"{"body":[1]}"#,
    ));
    assert_eq!(
        message,
        "body must be an object for application/x-www-form-urlencoded"
    );
}

#[test]
fn multipart_bodies_carry_fields_and_files() {
    let input = r#"{"body":{"a_title":"hi","file":{"content_base64":"aGVsbG8=","filename":"a\"b.txt","content_type":"text/plain"}}}"#;
    let request =
        with_body("multipart/form-data", Encoding::Multipart, true, input).expect("builds");
    let content_type = header(&request, "content-type").expect("a content type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a boundary");
    let expected = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"a_title\"\r\n\r\nhi\r\n\
         --{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a_b.txt\"\r\ncontent-type: text/plain\r\n\r\nhello\r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(
        body_text(&request),
        expected,
        "a quote in the file name cannot end the header field"
    );
}

#[test]
fn text_and_binary_bodies() {
    let request = with_body(
        "text/plain",
        Encoding::Text,
        true,
        r#"{"body":"line 1\nline 2"}"#,
    )
    .expect("builds");
    assert_eq!(body_text(&request), "line 1\nline 2");
    assert_eq!(
        invalid_input(with_body(
            "text/plain",
            Encoding::Text,
            true,
            r#"{"body":5}"#
        )),
        "body must be a string for text/plain, got a number"
    );

    let request = with_body(
        "application/octet-stream",
        Encoding::Binary,
        true,
        r#"{"body":{"content_base64":"AP8Q"}}"#,
    )
    .expect("builds");
    assert_eq!(request.body.as_deref(), Some(&[0u8, 255, 16][..]));
    let request = with_body(
        "application/octet-stream",
        Encoding::Binary,
        true,
        r#"{"body":"raw"}"#,
    )
    .expect("builds");
    assert_eq!(body_text(&request), "raw");
    assert_eq!(
        invalid_input(with_body(
            "application/octet-stream",
            Encoding::Binary,
            true,
            r#"{"body":{"content_base64":"!!"}}"#
        )),
        "content_base64 is not valid base64"
    );
}

#[test]
fn required_and_forbidden_bodies() {
    assert_eq!(
        invalid_input(with_body("application/json", Encoding::Json, true, "{}")),
        "missing required field \"body\""
    );
    let request = with_body(
        "application/json",
        Encoding::Json,
        false,
        r#"{"body":null}"#,
    )
    .expect("an optional body may be null");
    assert_eq!(request.body, None);
    assert_eq!(header(&request, "content-type"), None);
    let op = operation(Vec::new(), None, &[]);
    assert_eq!(
        invalid_input(build_with(op, &[], r#"{"body":{}}"#, &[])),
        "this operation takes no body"
    );
}

#[test]
fn input_is_checked_before_anything_is_built() {
    let op = operation(
        vec![
            Param {
                required: true,
                ..param("color", Location::Path, Style::Simple, false, Kind::String)
            },
            param("limit", Location::Query, Style::Form, true, Kind::Integer),
        ],
        None,
        &[],
    );
    let cases = [
        ("not json", "input is not valid JSON"),
        ("[1]", "input must be a JSON object"),
        ("{}", "missing required path parameter \"color\""),
        (
            r#"{"color":"c","colour":1}"#,
            "unknown input field \"colour\"; expected one of: color, limit",
        ),
        (
            r#"{"color":"c","limit":1.5}"#,
            "parameter \"limit\" must be an integer, got a number",
        ),
        (
            r#"{"color":7}"#,
            "parameter \"color\" must be a string, got a number",
        ),
    ];
    for (input, expected) in cases {
        let message = invalid_input(build_with(op, &[], input, &[]));
        assert!(message.starts_with(expected), "{input}: {message}");
    }
}

use aip_adapter_runtime::spec::Param;

#[test]
fn the_server_url_joins_the_base_path_and_may_be_overridden() {
    let op = operation(Vec::new(), None, &[]);
    let request = build_with(op, &[], "{}", &[]).expect("builds");
    assert_eq!(
        (
            request.scheme.as_str(),
            request.authority.as_str(),
            request.path_and_query.as_str()
        ),
        ("https", "api.example.com", "/v1/items")
    );

    let call = |server_url: Option<&str>, default: Option<&str>| {
        build(
            op,
            default,
            &[],
            "{}",
            &CallInput {
                credentials: &[],
                server_url,
                request_id: Some("r-9"),
            },
        )
    };
    let request = call(Some("http://127.0.0.1:8080/"), Some(SERVER)).expect("builds");
    assert_eq!(
        (
            request.scheme.as_str(),
            request.authority.as_str(),
            request.path_and_query.as_str()
        ),
        ("http", "127.0.0.1:8080", "/items")
    );
    assert_eq!(header(&request, "x-request-id"), Some("r-9"));
    assert!(invalid_input(call(None, None)).contains("the host must pass a server URL"));
    assert!(invalid_input(call(Some("ftp://h/"), None)).contains("is not an absolute http(s) URL"));
    assert!(invalid_input(call(Some("https://user@h/"), None)).contains("has no usable host"));
    assert!(
        invalid_input(call(Some("https://{region}.example.com"), None))
            .contains("has no usable host")
    );
}

#[test]
fn a_parameter_named_body_is_a_parameter_when_there_is_no_body() {
    let mut body = param("body", Location::Query, Style::Form, true, Kind::String);
    body.required = true;
    let op = operation(vec![body], None, &[]);
    let request = build_with(op, &[], r#"{"body":"{\"files\":[]}"}"#, &[]).expect("builds");
    assert_eq!(
        request.path_and_query,
        "/v1/items?body=%7B%22files%22%3A%5B%5D%7D"
    );
    assert_eq!(request.body, None);
}

#[test]
fn query_parameters_join_a_query_the_path_already_has() {
    let op = operation(
        vec![param(
            "include",
            Location::Query,
            Style::Form,
            true,
            Kind::String,
        )],
        None,
        &[],
    );
    let op = aip_adapter_runtime::spec::Operation {
        id: op.id,
        method: op.method,
        path: "/responses/1?beta=true",
        params: op.params,
        body: None,
        security: op.security,
        rpc: None,
    };
    let request = build_with(&op, &[], r#"{"include":"usage"}"#, &[]).expect("builds");
    assert_eq!(
        request.path_and_query,
        "/v1/responses/1?beta=true&include=usage"
    );
}
