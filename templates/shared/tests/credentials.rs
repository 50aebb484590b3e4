//! Every credential placement a security scheme can ask for, alternatives
//! (any one of them) and combinations (all of them), and what a missing
//! credential says.

mod support;

use aip_adapter_runtime::request::{BuildError, base64_decode, base64_encode};
use aip_adapter_runtime::spec::{Scheme, SchemeKind};
use support::{build_with, header, operation, query};

const SCHEMES: &[Scheme] = &[
    Scheme {
        name: "header_key",
        kind: SchemeKind::Header("X-Api-Key"),
    },
    Scheme {
        name: "query_key",
        kind: SchemeKind::Query("api key"),
    },
    Scheme {
        name: "cookie_key",
        kind: SchemeKind::Cookie("session"),
    },
    Scheme {
        name: "basic",
        kind: SchemeKind::Basic,
    },
    Scheme {
        name: "bearer",
        kind: SchemeKind::Bearer,
    },
    Scheme {
        name: "oauth_device",
        kind: SchemeKind::Unsupported,
    },
];

fn secured(
    security: &'static [&'static [&'static str]],
    credentials: &[(&str, &str)],
) -> Result<aip_adapter_runtime::request::Request, BuildError> {
    build_with(
        operation(Vec::new(), None, security),
        SCHEMES,
        "{}",
        credentials,
    )
}

#[test]
fn each_placement_puts_the_credential_where_the_scheme_says() {
    let request = secured(&[&["header_key"]], &[("header_key", "k-1")]).expect("builds");
    assert_eq!(header(&request, "X-Api-Key"), Some("k-1"));

    let request = secured(&[&["query_key"]], &[("query_key", "a&b=c")]).expect("builds");
    assert_eq!(
        query(&request),
        "api%20key=a%26b%3Dc",
        "name and value are percent-encoded"
    );

    let request = secured(&[&["cookie_key"]], &[("cookie_key", "s-1")]).expect("builds");
    assert_eq!(header(&request, "cookie"), Some("session=s-1"));

    let request = secured(&[&["basic"]], &[("basic", "user:pa:ss")]).expect("builds");
    let encoded = header(&request, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .expect("a Basic authorization");
    assert_eq!(
        base64_decode(encoded).as_deref(),
        Some(&b"user:pa:ss"[..]),
        "only the first colon separates user and password"
    );

    let request = secured(&[&["bearer"]], &[("bearer", "tok")]).expect("builds");
    assert_eq!(header(&request, "authorization"), Some("Bearer tok"));
}

#[test]
fn an_alternative_with_every_credential_given_is_used() {
    let security: &'static [&'static [&'static str]] = &[&["header_key", "query_key"], &["bearer"]];
    let both = secured(
        security,
        &[("header_key", "h"), ("query_key", "q"), ("bearer", "t")],
    )
    .expect("builds");
    assert_eq!(header(&both, "X-Api-Key"), Some("h"));
    assert_eq!(query(&both), "api%20key=q");
    assert_eq!(
        header(&both, "authorization"),
        None,
        "the first complete alternative wins, alone"
    );

    let half = secured(security, &[("header_key", "h"), ("bearer", "t")]).expect("builds");
    assert_eq!(
        header(&half, "X-Api-Key"),
        None,
        "an incomplete alternative sends nothing"
    );
    assert_eq!(header(&half, "authorization"), Some("Bearer t"));
}

#[test]
fn missing_credentials_name_every_alternative() {
    let security: &'static [&'static [&'static str]] = &[&["header_key", "query_key"], &["bearer"]];
    match secured(security, &[("header_key", "h")]) {
        Err(BuildError::MissingCredential(message)) => {
            assert_eq!(
                message,
                "operation op needs credentials for one of: header_key + query_key | bearer"
            );
        }
        other => panic!("expected a missing credential, got {other:?}"),
    }
}

#[test]
fn an_unsupported_scheme_never_satisfies_an_alternative() {
    let security: &'static [&'static [&'static str]] = &[&["oauth_device"]];
    assert!(matches!(
        secured(security, &[("oauth_device", "x")]),
        Err(BuildError::MissingCredential(_))
    ));
}

#[test]
fn operations_without_security_send_no_credentials() {
    let request = secured(&[], &[("bearer", "t"), ("header_key", "h")]).expect("builds");
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(header(&request, "X-Api-Key"), None);
}

#[test]
fn credentials_cannot_inject_headers() {
    match secured(&[&["bearer"]], &[("bearer", "t\r\nX-Evil: 1")]) {
        Err(BuildError::InvalidInput(message)) => {
            assert!(message.contains("control characters"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn base64_round_trips_and_matches_rfc_4648_vectors() {
    // RFC 4648 section 10.
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_encode(plain.as_bytes()), encoded);
        assert_eq!(base64_decode(encoded).as_deref(), Some(plain.as_bytes()));
    }
    let binary = [0u8, 255, 16, 128, 7];
    assert_eq!(
        base64_decode(&base64_encode(&binary)).as_deref(),
        Some(&binary[..])
    );
    assert_eq!(
        base64_decode("Zm9v\nYmFy"),
        Some(b"foobar".to_vec()),
        "line breaks are skipped"
    );
    assert_eq!(base64_decode("not base64!"), None);
}
