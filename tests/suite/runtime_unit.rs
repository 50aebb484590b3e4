//! Unit tests of the adapter runtime's request builder (compiled natively).

use crate::request::{BuildError, CallInput, base64_decode, base64_encode, build};
use crate::spec::{Body, Encoding, Kind, Location, Operation, Param, Scheme, SchemeKind, Style};

const fn param(
    name: &'static str,
    location: Location,
    style: Style,
    explode: bool,
    kind: Kind,
) -> Param {
    Param {
        name,
        key: name,
        location,
        style,
        explode,
        required: false,
        allow_reserved: false,
        kind,
    }
}

static PARAMS: &[Param] = &[
    Param {
        required: true,
        ..param("id", Location::Path, Style::Simple, false, Kind::String)
    },
    param("ids", Location::Query, Style::Form, false, Kind::Array),
    param("each", Location::Query, Style::Form, true, Kind::Array),
    param(
        "space",
        Location::Query,
        Style::SpaceDelimited,
        false,
        Kind::Array,
    ),
    param(
        "pipe",
        Location::Query,
        Style::PipeDelimited,
        false,
        Kind::Array,
    ),
    param(
        "deep",
        Location::Query,
        Style::DeepObject,
        true,
        Kind::Object,
    ),
    param("n", Location::Query, Style::Form, true, Kind::Integer),
    param(
        "X-Flag",
        Location::Header,
        Style::Simple,
        false,
        Kind::Boolean,
    ),
    param("c", Location::Cookie, Style::Form, true, Kind::String),
];

static OP: Operation = Operation {
    id: "op",
    method: "POST",
    path: "/things/{id}",
    params: PARAMS,
    body: Some(Body {
        required: false,
        media_type: "application/json",
        encoding: Encoding::Json,
    }),
    security: &[&["key"], &["basic"]],
    rpc: None,
};

static SCHEMES: &[Scheme] = &[
    Scheme {
        name: "key",
        kind: SchemeKind::Query("api_key"),
    },
    Scheme {
        name: "basic",
        kind: SchemeKind::Basic,
    },
];

fn call(creds: &[(&str, &str)]) -> Vec<(String, String)> {
    creds
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(input: &str, creds: &[(&str, &str)]) -> Result<crate::request::Request, BuildError> {
    let credentials = call(creds);
    build(
        &OP,
        Some("https://api.example.com/base/"),
        SCHEMES,
        input,
        &CallInput {
            credentials: &credentials,
            server_url: None,
            request_id: Some("req-1"),
        },
    )
}

#[test]
fn serialises_every_style() {
    let req = run(
        r#"{"id":"a b/c","ids":[1,2],"each":["x","y"],"space":["p","q"],"pipe":["r","s"],"deep":{"k":"v"},"n":5,"X-Flag":true,"c":"cv","body":{"z":1}}"#,
        &[("key", "s3cret&")],
    )
    .expect("builds");
    assert_eq!(req.method, "POST");
    assert_eq!(req.scheme, "https");
    assert_eq!(req.authority, "api.example.com");
    assert_eq!(
        req.path_and_query,
        "/base/things/a%20b%2Fc?ids=1,2&each=x&each=y&space=p%20q&pipe=r%7Cs&deep%5Bk%5D=v&n=5&api_key=s3cret%26"
    );
    let h = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(h("X-Flag").as_deref(), Some("true"));
    assert_eq!(h("cookie").as_deref(), Some("c=cv"));
    assert_eq!(h("x-request-id").as_deref(), Some("req-1"));
    assert_eq!(h("content-type").as_deref(), Some("application/json"));
    assert_eq!(h("content-length").as_deref(), Some("7"));
    assert_eq!(req.body.as_deref(), Some(&br#"{"z":1}"#[..]));
}

#[test]
fn second_security_alternative_is_used_when_the_first_is_missing() {
    let req = run(r#"{"id":"1"}"#, &[("basic", "user:pa:ss")]).expect("builds");
    let auth = req
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    assert_eq!(auth.as_deref(), Some("Basic dXNlcjpwYTpzcw=="));
    assert!(!req.path_and_query.contains("api_key"));
}

/// Input JSON, credentials (scheme, value), and the expected message.
type InputCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_input_is_reported_precisely() {
    let cases: &[InputCase] = &[
        ("not json", &[("key", "k")], "input is not valid JSON"),
        ("[1]", &[("key", "k")], "input must be a JSON object"),
        (
            r#"{}"#,
            &[("key", "k")],
            "missing required path parameter \"id\"",
        ),
        (
            r#"{"id":"1","bogus":1}"#,
            &[("key", "k")],
            "unknown input field \"bogus\"",
        ),
        (
            r#"{"id":"1","n":"five"}"#,
            &[("key", "k")],
            "parameter \"n\" must be an integer, got a string",
        ),
        (
            r#"{"id":"1","X-Flag":"a\r\nb"}"#,
            &[("key", "k")],
            "must be a boolean",
        ),
    ];
    for (input, creds, expected) in cases {
        match run(input, creds) {
            Err(BuildError::InvalidInput(m)) => assert!(m.contains(expected), "{input}: {m}"),
            other => panic!("{input}: expected invalid input, got {other:?}"),
        }
    }
    match run(r#"{"id":"1"}"#, &[]) {
        Err(BuildError::MissingCredential(m)) => assert!(m.contains("key | basic"), "{m}"),
        other => panic!("expected missing credential, got {other:?}"),
    }
}

#[test]
fn header_injection_is_refused() {
    static HP: &[Param] = &[param(
        "X-Note",
        Location::Header,
        Style::Simple,
        false,
        Kind::String,
    )];
    static HOP: Operation = Operation {
        id: "h",
        method: "GET",
        path: "/",
        params: HP,
        body: None,
        security: &[],
        rpc: None,
    };
    let err = build(
        &HOP,
        Some("http://h.example"),
        &[],
        r#"{"X-Note":"a\r\nInjected: yes"}"#,
        &CallInput {
            credentials: &[],
            server_url: None,
            request_id: None,
        },
    );
    assert!(matches!(err, Err(BuildError::InvalidInput(m)) if m.contains("control characters")));
}

#[test]
fn base64_round_trips() {
    for data in [
        &b""[..],
        b"f",
        b"fo",
        b"foo",
        b"foob",
        b"\x00\xff\x10binary",
    ] {
        assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
    }
    assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(base64_decode("not base64!"), None);
}
