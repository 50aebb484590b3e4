//! How OpenAPI says an array or object parameter goes on the wire, by its
//! location, `style` and `explode` (the OpenAPI 3 style table, after RFC
//! 6570): the mock's own statement of the rules, written apart from the
//! adapters' runtime, so that a runtime that serializes a style wrongly
//! fails the contract test. Values are compared percent-decoded: how a
//! character is escaped is not a style question.

use aip_ir::{ParamLocation, ParamStyle, Parameter};
use serde_json::Value;

/// What the request must carry for one array or object parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The decoded text of the path variable, header or cookie.
    Text(String),
    /// Query pairs (decoded), in order.
    Pairs(Vec<(String, String)>),
}

/// What `value` of `param` looks like on the wire; `None` for scalars, for
/// empty or nested values (whose form OpenAPI leaves open) and for
/// combinations OpenAPI does not define.
pub fn expected(param: &Parameter, value: &Value) -> Option<Expected> {
    let parts = Parts::of(value)?;
    let name = param.name.as_str();
    let explode = param.explode;
    Some(match (param.location, param.style) {
        (ParamLocation::Path | ParamLocation::Header, ParamStyle::Simple) => {
            Expected::Text(parts.joined(",", explode, "="))
        }
        (ParamLocation::Path, ParamStyle::Label) => {
            let sep = if explode { "." } else { "," };
            Expected::Text(format!(".{}", parts.joined(sep, explode, "=")))
        }
        (ParamLocation::Path, ParamStyle::Matrix) => Expected::Text(match (&parts, explode) {
            (Parts::Items(items), true) => items.iter().map(|i| format!(";{name}={i}")).collect(),
            (Parts::Entries(entries), true) => {
                entries.iter().map(|(k, v)| format!(";{k}={v}")).collect()
            }
            (_, false) => format!(";{name}={}", parts.joined(",", false, "=")),
        }),
        (ParamLocation::Query, ParamStyle::Form) => match (&parts, explode) {
            (Parts::Items(items), true) => {
                Expected::Pairs(items.iter().map(|i| (name.into(), i.clone())).collect())
            }
            (Parts::Entries(entries), true) => Expected::Pairs(entries.clone()),
            (_, false) => Expected::Pairs(vec![(name.into(), parts.joined(",", false, "="))]),
        },
        (ParamLocation::Query, ParamStyle::SpaceDelimited | ParamStyle::PipeDelimited)
            if !explode =>
        {
            let sep = if param.style == ParamStyle::SpaceDelimited {
                " "
            } else {
                "|"
            };
            Expected::Pairs(vec![(name.into(), parts.joined(sep, false, sep))])
        }
        (ParamLocation::Query, ParamStyle::DeepObject) => match &parts {
            Parts::Entries(entries) => Expected::Pairs(
                entries
                    .iter()
                    .map(|(k, v)| (format!("{name}[{k}]"), v.clone()))
                    .collect(),
            ),
            Parts::Items(_) => return None,
        },
        (ParamLocation::Cookie, ParamStyle::Form) if !explode => {
            Expected::Text(parts.joined(",", false, "="))
        }
        _ => return None,
    })
}

/// An array's items or an object's entries, each a scalar as text.
#[derive(Debug)]
enum Parts {
    Items(Vec<String>),
    Entries(Vec<(String, String)>),
}

impl Parts {
    fn of(value: &Value) -> Option<Parts> {
        let parts = match value {
            Value::Array(items) => Parts::Items(items.iter().map(scalar).collect::<Option<_>>()?),
            Value::Object(map) => Parts::Entries(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), scalar(v)?)))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        };
        let empty = match &parts {
            Parts::Items(items) => items.is_empty(),
            Parts::Entries(entries) => entries.is_empty(),
        };
        (!empty).then_some(parts)
    }

    /// Items joined by `sep`; entries as `k=v` joined by `sep` when
    /// exploded, else `k,v` pairs flattened and joined by `flat_sep`.
    fn joined(&self, sep: &str, explode: bool, pair: &str) -> String {
        match self {
            Parts::Items(items) => items.join(sep),
            Parts::Entries(entries) if explode => entries
                .iter()
                .map(|(k, v)| format!("{k}{pair}{v}"))
                .collect::<Vec<_>>()
                .join(sep),
            Parts::Entries(entries) => entries
                .iter()
                .flat_map(|(k, v)| [k.as_str(), v.as_str()])
                .collect::<Vec<_>>()
                .join(if pair == "=" { sep } else { pair }),
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(location: ParamLocation, style: ParamStyle, explode: bool) -> Parameter {
        Parameter {
            name: "id".into(),
            input_key: "id".into(),
            location,
            style,
            explode,
            required: false,
            allow_reserved: false,
            deprecated: false,
            description: None,
            schema: json!({}),
        }
    }

    fn text(s: &str) -> Option<Expected> {
        Some(Expected::Text(s.into()))
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Expected> {
        Some(Expected::Pairs(
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    /// The examples of the OpenAPI 3.1 style table (`color`, as `id`).
    #[test]
    fn the_openapi_style_table() {
        use ParamLocation::*;
        use ParamStyle::*;
        let array = json!(["blue", "black", "brown"]);
        let object = json!({"R": 100, "G": 200, "B": 150});
        let cases = [
            (Path, Matrix, false, &array, text(";id=blue,black,brown")),
            (
                Path,
                Matrix,
                true,
                &array,
                text(";id=blue;id=black;id=brown"),
            ),
            (Path, Matrix, false, &object, text(";id=R,100,G,200,B,150")),
            (Path, Matrix, true, &object, text(";R=100;G=200;B=150")),
            (Path, Label, false, &array, text(".blue,black,brown")),
            (Path, Label, true, &array, text(".blue.black.brown")),
            (Path, Label, false, &object, text(".R,100,G,200,B,150")),
            (Path, Label, true, &object, text(".R=100.G=200.B=150")),
            (Path, Simple, false, &array, text("blue,black,brown")),
            (Header, Simple, true, &array, text("blue,black,brown")),
            (Path, Simple, false, &object, text("R,100,G,200,B,150")),
            (Path, Simple, true, &object, text("R=100,G=200,B=150")),
            (
                Query,
                Form,
                false,
                &array,
                pairs(&[("id", "blue,black,brown")]),
            ),
            (
                Query,
                Form,
                true,
                &array,
                pairs(&[("id", "blue"), ("id", "black"), ("id", "brown")]),
            ),
            (
                Query,
                Form,
                false,
                &object,
                pairs(&[("id", "R,100,G,200,B,150")]),
            ),
            (
                Query,
                Form,
                true,
                &object,
                pairs(&[("R", "100"), ("G", "200"), ("B", "150")]),
            ),
            (
                Query,
                SpaceDelimited,
                false,
                &array,
                pairs(&[("id", "blue black brown")]),
            ),
            (
                Query,
                PipeDelimited,
                false,
                &array,
                pairs(&[("id", "blue|black|brown")]),
            ),
            (
                Query,
                PipeDelimited,
                false,
                &object,
                pairs(&[("id", "R|100|G|200|B|150")]),
            ),
            (
                Query,
                DeepObject,
                true,
                &object,
                pairs(&[("id[R]", "100"), ("id[G]", "200"), ("id[B]", "150")]),
            ),
            (Cookie, Form, false, &array, text("blue,black,brown")),
        ];
        for (location, style, explode, value, want) in cases {
            assert_eq!(
                expected(&param(location, style, explode), value),
                want,
                "{location:?} {style:?} explode={explode} {value}"
            );
        }
        assert_eq!(expected(&param(Query, Form, true), &json!("x")), None);
        assert_eq!(expected(&param(Query, Form, true), &json!([])), None);
        assert_eq!(
            expected(&param(Query, Form, true), &json!([{"a": 1}])),
            None
        );
    }
}
