//! Every parameter style and explode combination, against the "Style
//! Examples" table of the OpenAPI Specification (3.0.3 and 3.1.0, section
//! "Parameter Object"): a parameter named `color` holding the string
//! `"blue"`, the array `["blue","black","brown"]` or the object
//! `{"R":100,"G":200,"B":150}`. The runtime sends an object's members in
//! key order (JSON objects are unordered; key order is deterministic), so
//! the object here is given, and expected, as `B`, `G`, `R`.
//! Where the table leaves a delimiter
//! unescaped, the runtime must too, and it percent-encodes what the value
//! holds, so a delimiter inside a value stays distinguishable.

mod support;

use aip_adapter_runtime::spec::{Kind, Location, Style};
use support::{build_with, header, operation, param, path, query};

const STRING: &str = r#""blue""#;
const ARRAY: &str = r#"["blue","black","brown"]"#;
const OBJECT: &str = r#"{"B":150,"G":200,"R":100}"#;

/// Where the serialised parameter ends up.
fn serialise(location: Location, style: Style, explode: bool, value: &str) -> String {
    let kind = match value.as_bytes().first() {
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::String,
    };
    let op = operation(
        vec![param("color", location, style, explode, kind)],
        None,
        &[],
    );
    let request =
        build_with(op, &[], &format!(r#"{{"color":{value}}}"#), &[]).expect("the request builds");
    match location {
        Location::Path => path(&request).trim_start_matches("/items/").to_string(),
        Location::Query => query(&request).to_string(),
        Location::Header => header(&request, "color").unwrap_or_default().to_string(),
        Location::Cookie => header(&request, "cookie").unwrap_or_default().to_string(),
    }
}

/// (style, explode, string, array, object) rows of the specification's table
/// for path parameters.
const PATH_TABLE: &[(Style, bool, &str, &str, &str)] = &[
    (
        Style::Matrix,
        false,
        ";color=blue",
        ";color=blue,black,brown",
        ";color=B,150,G,200,R,100",
    ),
    (
        Style::Matrix,
        true,
        ";color=blue",
        ";color=blue;color=black;color=brown",
        ";B=150;G=200;R=100",
    ),
    (
        Style::Label,
        false,
        ".blue",
        ".blue,black,brown",
        ".B,150,G,200,R,100",
    ),
    (
        Style::Label,
        true,
        ".blue",
        ".blue.black.brown",
        ".B=150.G=200.R=100",
    ),
    (
        Style::Simple,
        false,
        "blue",
        "blue,black,brown",
        "B,150,G,200,R,100",
    ),
    (
        Style::Simple,
        true,
        "blue",
        "blue,black,brown",
        "B=150,G=200,R=100",
    ),
];

#[test]
fn path_parameters_follow_the_specification_table() {
    for (style, explode, string, array, object) in PATH_TABLE {
        for (value, expected) in [(STRING, string), (ARRAY, array), (OBJECT, object)] {
            assert_eq!(
                serialise(Location::Path, *style, *explode, value),
                *expected,
                "path {style:?} explode={explode} of {value}"
            );
        }
    }
}

/// The query rows: (style, explode, string, array, object); `None` where
/// the table says the combination is not applicable.
type QueryRow = (
    Style,
    bool,
    Option<&'static str>,
    &'static str,
    &'static str,
);

const QUERY_TABLE: &[QueryRow] = &[
    (
        Style::Form,
        false,
        Some("color=blue"),
        "color=blue,black,brown",
        "color=B,150,G,200,R,100",
    ),
    (
        Style::Form,
        true,
        Some("color=blue"),
        "color=blue&color=black&color=brown",
        "B=150&G=200&R=100",
    ),
    (
        Style::SpaceDelimited,
        false,
        None,
        "color=blue%20black%20brown",
        "color=B%20150%20G%20200%20R%20100",
    ),
    (
        Style::PipeDelimited,
        false,
        None,
        "color=blue%7Cblack%7Cbrown",
        "color=B%7C150%7CG%7C200%7CR%7C100",
    ),
];

#[test]
fn query_parameters_follow_the_specification_table() {
    for (style, explode, string, array, object) in QUERY_TABLE {
        if let Some(string) = string {
            assert_eq!(
                serialise(Location::Query, *style, *explode, STRING),
                *string,
                "query {style:?} explode={explode} of a string"
            );
        }
        assert_eq!(
            serialise(Location::Query, *style, *explode, ARRAY),
            *array,
            "query {style:?} explode={explode} of an array"
        );
        assert_eq!(
            serialise(Location::Query, *style, *explode, OBJECT),
            *object,
            "query {style:?} explode={explode} of an object"
        );
    }
}

#[test]
fn deep_object_brackets_are_percent_encoded() {
    // The table's `color[R]=100&color[G]=200&color[B]=150`, with the
    // brackets encoded as RFC 3986 requires outside the IP-literal.
    assert_eq!(
        serialise(Location::Query, Style::DeepObject, true, OBJECT),
        "color%5BB%5D=150&color%5BG%5D=200&color%5BR%5D=100"
    );
}

#[test]
fn header_parameters_use_simple_style() {
    assert_eq!(
        serialise(Location::Header, Style::Simple, false, STRING),
        "blue"
    );
    assert_eq!(
        serialise(Location::Header, Style::Simple, false, ARRAY),
        "blue,black,brown"
    );
    assert_eq!(
        serialise(Location::Header, Style::Simple, false, OBJECT),
        "B,150,G,200,R,100"
    );
    assert_eq!(
        serialise(Location::Header, Style::Simple, true, OBJECT),
        "B=150,G=200,R=100"
    );
}

#[test]
fn cookie_parameters_join_in_one_cookie_header() {
    assert_eq!(
        serialise(Location::Cookie, Style::Form, true, STRING),
        "color=blue"
    );
    assert_eq!(
        serialise(Location::Cookie, Style::Form, false, ARRAY),
        "color=blue,black,brown"
    );
}

#[test]
fn delimiters_inside_values_are_escaped_but_delimiters_between_items_are_not() {
    let tricky = r#"["a,b","c d","e|f","g;h"]"#;
    assert_eq!(
        serialise(Location::Path, Style::Simple, false, tricky),
        "a%2Cb,c%20d,e%7Cf,g%3Bh"
    );
    assert_eq!(
        serialise(Location::Path, Style::Matrix, true, tricky),
        ";color=a%2Cb;color=c%20d;color=e%7Cf;color=g%3Bh"
    );
    assert_eq!(
        serialise(Location::Query, Style::Form, false, tricky),
        "color=a%2Cb,c%20d,e%7Cf,g%3Bh"
    );
    let object = r#"{"k,1":"v=2"}"#;
    assert_eq!(
        serialise(Location::Path, Style::Simple, true, object),
        "k%2C1=v%3D2"
    );
    assert_eq!(
        serialise(Location::Path, Style::Matrix, false, object),
        ";color=k%2C1,v%3D2"
    );
}

#[test]
fn path_values_cannot_add_path_segments() {
    assert_eq!(
        serialise(Location::Path, Style::Simple, false, r#""../admin?x=1#f""#),
        "..%2Fadmin%3Fx%3D1%23f"
    );
}

#[test]
fn allow_reserved_keeps_reserved_characters_in_query_values() {
    let mut with_reserved = param("q", Location::Query, Style::Form, true, Kind::String);
    with_reserved.allow_reserved = true;
    let op = operation(
        vec![
            with_reserved,
            param("plain", Location::Query, Style::Form, true, Kind::String),
        ],
        None,
        &[],
    );
    let request = build_with(op, &[], r#"{"q":"a/b:c?d","plain":"a/b:c?d"}"#, &[])
        .expect("the request builds");
    assert_eq!(query(&request), "q=a/b:c?d&plain=a%2Fb%3Ac%3Fd");
}

#[test]
fn scalars_other_than_strings_are_written_as_json() {
    let op = operation(
        vec![
            param("n", Location::Query, Style::Form, true, Kind::Integer),
            param("x", Location::Query, Style::Form, true, Kind::Number),
            param("b", Location::Query, Style::Form, true, Kind::Boolean),
        ],
        None,
        &[],
    );
    let request =
        build_with(op, &[], r#"{"n":-3,"x":2.5,"b":false}"#, &[]).expect("the request builds");
    assert_eq!(query(&request), "n=-3&x=2.5&b=false");
}

#[test]
fn object_members_are_sent_in_key_order_whatever_the_input_order() {
    assert_eq!(
        serialise(Location::Query, Style::Form, true, r#"{"z":1,"a":2,"m":3}"#),
        "a=2&m=3&z=1"
    );
}
