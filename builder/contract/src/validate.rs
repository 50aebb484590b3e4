//! The mock vendor's judgement of one request: which operation it is for
//! (method and path template), and what it gets wrong against the spec:
//! parameters (presence, scalar types; given the input the module was
//! called with, that each parameter in it was sent, arrays and objects in
//! their style: `style.rs`), credentials (the right value in the right
//! place), the body (media type, JSON Schema).

use std::collections::BTreeMap;

use aip_ir::{Api, ApiKeyLocation, Operation, ParamLocation, SecurityScheme};

use crate::style::Expected;
use base64::Engine as _;
use serde_json::Value;

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
            })
            .collect()
    }

    fn cookies(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// What the mock made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The operation whose method and path it matched (of several with the
    /// same method and path, the first the request satisfies).
    pub operation: Option<String>,
    /// Every operation with that method and path (specs declare the same
    /// endpoint twice, told apart by a header or a parameter).
    pub endpoint_of: Vec<String>,
    /// What it gets wrong (empty: accepted).
    pub problems: Vec<String>,
}

/// Percent-decodes `text` (invalid escapes kept as they are).
pub use aip_ir::percent_decode as decode;

/// The path variables of `template` in `path`, if it matches.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut vars = BTreeMap::new();
    for (seg_t, seg_p) in t.iter().zip(&p) {
        match_segment(seg_t, seg_p, &mut vars)?;
    }
    Some(vars)
}

/// Matches one path segment against its template (literal text and
/// `{var}`s, several allowed: `{sha}.{diffType}`); a variable takes the
/// shortest text up to the literal that follows it.
fn match_segment(template: &str, segment: &str, vars: &mut BTreeMap<String, String>) -> Option<()> {
    let mut rest = segment;
    let mut tpl = template;
    while !tpl.is_empty() {
        match tpl.find('{') {
            Some(0) => {
                let close = tpl.find('}')?;
                let name = &tpl[1..close];
                tpl = &tpl[close + 1..];
                let literal_end = tpl.find('{').unwrap_or(tpl.len());
                let literal = &tpl[..literal_end];
                let value = if literal.is_empty() {
                    if tpl.is_empty() { rest } else { return None }
                } else {
                    &rest[..rest.find(literal)?]
                };
                if value.is_empty() {
                    return None;
                }
                vars.insert(name.to_string(), decode(value));
                rest = &rest[value.len()..];
            }
            Some(open) => {
                rest = rest.strip_prefix(&tpl[..open])?;
                tpl = &tpl[open..];
            }
            None => {
                rest = rest.strip_prefix(tpl)?;
                tpl = "";
            }
        }
    }
    rest.is_empty().then_some(())
}

/// How much of `template` is literal text: the most literal match wins.
fn literal_len(template: &str) -> usize {
    let mut depth = 0usize;
    template
        .chars()
        .filter(|c| {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .count()
}

/// The operations `request` may be for: same method, matching path, the
/// most literal template (a literal segment beats a variable); several
/// when the spec declares the same endpoint more than once.
fn operations_for<'a>(
    api: &'a Api,
    request: &Request,
) -> Vec<(&'a Operation, BTreeMap<String, String>)> {
    let matched: Vec<(&Operation, BTreeMap<String, String>)> = api
        .operations
        .iter()
        .filter(|op| op.method.as_str() == request.method)
        .filter_map(|op| {
            // A template may carry a query (`/responses/{id}?beta=true`):
            // each of its pairs must be in the request.
            let (path, query) = op.path.split_once('?').unwrap_or((&op.path, ""));
            let sent = request.query_pairs();
            let pairs_sent = query.split('&').filter(|p| !p.is_empty()).all(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                sent.iter().any(|(sk, sv)| sk == k && sv == v)
            });
            pairs_sent.then_some(())?;
            Some((op, match_path(path, &request.path)?))
        })
        .collect();
    let best = matched
        .iter()
        .map(|(op, _)| literal_len(&op.path))
        .max()
        .unwrap_or(0);
    matched
        .into_iter()
        .filter(|(op, _)| literal_len(&op.path) == best)
        .collect()
}

/// Whether `text` is a value of `schema`'s scalar type (objects and
/// arrays are not checked in parameters).
fn scalar_fits(schema: &Value, defs: &BTreeMap<String, Value>, text: &str) -> bool {
    let schema = aip_ir::resolve_def(defs, schema).0;
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    types.iter().any(|t| match *t {
        "integer" => text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok(),
        "number" => text.parse::<f64>().is_ok(),
        "boolean" => text == "true" || text == "false",
        _ => true,
    })
}

/// Judges `request` against `api`; `credentials` are the values the test
/// gave the module, by security scheme.
pub fn judge(
    api: &Api,
    request: &Request,
    credentials: &BTreeMap<String, String>,
    input: Option<&Value>,
) -> Verdict {
    let candidates = operations_for(api, request);
    if candidates.is_empty() {
        return Verdict {
            operation: None,
            endpoint_of: Vec::new(),
            problems: vec![format!(
                "{} {} is no operation of the spec",
                request.method, request.path
            )],
        };
    }
    let endpoint_of: Vec<String> = candidates.iter().map(|(op, _)| op.id.clone()).collect();
    let mut first: Option<Verdict> = None;
    for (op, vars) in &candidates {
        let mut problems = Vec::new();
        parameters(api, op, request, vars, &mut problems);
        if let Some(input) = input {
            sent_as_given(op, request, vars, input, &mut problems);
        }
        security(api, op, request, credentials, &mut problems);
        body(api, op, request, &mut problems);
        let verdict = Verdict {
            operation: Some(op.id.clone()),
            endpoint_of: endpoint_of.clone(),
            problems,
        };
        if verdict.problems.is_empty() {
            return verdict;
        }
        first.get_or_insert(verdict);
    }
    first.unwrap_or(Verdict {
        operation: None,
        endpoint_of,
        problems: Vec::new(),
    })
}

fn parameters(
    api: &Api,
    op: &Operation,
    request: &Request,
    vars: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let query = request.query_pairs();
    let cookies = request.cookies();
    for param in &op.parameters {
        let value = sent(param, request, vars, &query, &cookies);
        let place = format!("{:?} parameter {:?}", param.location, param.name).to_lowercase();
        match value {
            None if param.required => problems.push(format!("required {place} is missing")),
            Some(v) if !scalar_fits(&param.schema, &api.schemas, &v) => {
                problems.push(format!("{place} {v:?} is not of its schema's type"));
            }
            _ => {}
        }
    }
}

/// The text `param` arrived as (decoded; a query parameter's first value,
/// `name=` or a `name[...]=` of a deep object), if it arrived.
fn sent(
    param: &aip_ir::Parameter,
    request: &Request,
    vars: &BTreeMap<String, String>,
    query: &[(String, String)],
    cookies: &[(String, String)],
) -> Option<String> {
    match param.location {
        ParamLocation::Path => vars.get(&param.name).cloned(),
        ParamLocation::Query => query
            .iter()
            .find(|(k, _)| k == &param.name || k.starts_with(&format!("{}[", param.name)))
            .map(|(_, v)| v.clone()),
        ParamLocation::Header => request.header(&param.name).map(str::to_string),
        ParamLocation::Cookie => cookies
            .iter()
            .find(|(k, _)| k == &param.name)
            .map(|(_, v)| decode(v)),
    }
}

/// Every parameter of `input` was sent, an array or object in the form its
/// location, style and explode ask for.
fn sent_as_given(
    op: &Operation,
    request: &Request,
    vars: &BTreeMap<String, String>,
    input: &Value,
    problems: &mut Vec<String>,
) {
    let query = request.query_pairs();
    let cookies = request.cookies();
    for param in &op.parameters {
        // An empty array or object has nothing to send.
        let empty = |v: &&Value| match v {
            Value::Null => true,
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => false,
        };
        let Some(value) = input.get(&param.input_key).filter(|v| !empty(v)) else {
            continue;
        };
        let place = format!("{:?} parameter {:?}", param.location, param.name).to_lowercase();
        let sent = sent(param, request, vars, &query, &cookies);
        match crate::style::expected(param, value) {
            Some(Expected::Text(want)) => {
                if sent.as_deref() != Some(want.as_str()) {
                    problems.push(format!(
                        "{place} is sent as {}, not as its style ({:?}, explode {}) asks: {want:?}",
                        sent.map_or("nothing".into(), |s| format!("{s:?}")),
                        param.style,
                        param.explode
                    ));
                }
            }
            Some(Expected::Pairs(want)) => {
                let keys: Vec<&String> = want.iter().map(|(k, _)| k).collect();
                let got: Vec<(String, String)> = query
                    .iter()
                    .filter(|(k, _)| keys.contains(&k))
                    .cloned()
                    .collect();
                if got != want {
                    problems.push(format!(
                        "{place} is sent as {}, not as its style ({:?}, explode {}) asks: {}",
                        query_text(&got),
                        param.style,
                        param.explode,
                        query_text(&want)
                    ));
                }
            }
            None => {
                let overridden = param.location == ParamLocation::Header
                    && ["accept", "content-type", "authorization"]
                        .contains(&param.name.to_ascii_lowercase().as_str());
                if sent.is_none() && !overridden {
                    problems.push(format!("{place} is in the input but was not sent"));
                }
            }
        }
    }
}

/// Query pairs as `k=v&k=v`, for messages (or `nothing`).
fn query_text(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return "nothing".into();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn security(
    api: &Api,
    op: &Operation,
    request: &Request,
    credentials: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    if op.security.is_empty() {
        return;
    }
    let present = |name: &str| -> Result<(), String> {
        let expected = credentials.get(name).cloned().unwrap_or_default();
        match api.security_schemes.get(name) {
            Some(SecurityScheme::ApiKey {
                name: key,
                location,
            }) => {
                let found = match location {
                    ApiKeyLocation::Header => request.header(key).map(str::to_string),
                    ApiKeyLocation::Query => request
                        .query_pairs()
                        .into_iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v),
                    ApiKeyLocation::Cookie => request
                        .cookies()
                        .into_iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v),
                };
                (found.as_deref() == Some(expected.as_str()))
                    .then_some(())
                    .ok_or_else(|| {
                        format!("credential {name:?} is not in {location:?} {key:?}").to_lowercase()
                    })
            }
            Some(SecurityScheme::Basic) => {
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&expected)
                );
                (request.header("authorization") == Some(want.as_str()))
                    .then_some(())
                    .ok_or_else(|| {
                        format!("credential {name:?} is not sent as HTTP basic authorization")
                    })
            }
            Some(SecurityScheme::Bearer { .. }) => (request.header("authorization")
                == Some(format!("Bearer {expected}").as_str()))
            .then_some(())
            .ok_or_else(|| format!("credential {name:?} is not sent as a bearer token")),
            // Nothing the adapter can apply, nothing to check.
            Some(SecurityScheme::Unsupported { .. }) | None => Ok(()),
        }
    };
    let mut reasons = Vec::new();
    for alternative in &op.security {
        match alternative
            .iter()
            .map(|s| present(s))
            .collect::<Result<Vec<()>, String>>()
        {
            Ok(_) => return,
            Err(reason) => reasons.push(reason),
        }
    }
    problems.push(reasons.join("; or "));
}

fn body(api: &Api, op: &Operation, request: &Request, problems: &mut Vec<String>) {
    let Some(spec_body) = &op.request_body else {
        return;
    };
    if request.body.is_empty() {
        if spec_body.required {
            problems.push("the required request body is missing".into());
        }
        return;
    }
    let sent = request
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let accepts = |declared: &str| {
        let declared = declared.to_ascii_lowercase();
        declared == sent
            || declared == "*/*"
            || declared
                .strip_suffix("/*")
                .is_some_and(|major| sent.starts_with(&format!("{major}/")))
    };
    let Some(media) = spec_body.contents.iter().find(|m| accepts(&m.media_type)) else {
        let declared: Vec<&str> = spec_body
            .contents
            .iter()
            .map(|m| m.media_type.as_str())
            .collect();
        problems.push(format!(
            "the body is sent as {sent:?}, which the spec does not declare ({})",
            declared.join(", ")
        ));
        return;
    };
    let json_media = sent == "application/json" || sent.ends_with("+json");
    if let (true, Some(schema)) = (json_media, &media.schema) {
        let value: Value = match serde_json::from_slice(&request.body) {
            Ok(value) => value,
            Err(e) => {
                problems.push(format!("the body is not JSON: {e}"));
                return;
            }
        };
        // A schema the validator cannot compile is not judged.
        if let Ok(validator) = jsonschema::validator_for(&lenient(schema, &api.schemas)) {
            for error in validator.iter_errors(&value).take(3) {
                problems.push(format!("body{}: {error}", error.instance_path));
            }
        }
    }
}

/// `schema` with the named schemas beside it, every `oneOf` read as
/// `anyOf` and every empty `enum` dropped: published specs give
/// alternatives that overlap (two objects of optional properties) and
/// enums of nothing, which no value can satisfy strictly; the adapter is
/// not at fault for that.
pub fn lenient(schema: &Value, defs: &BTreeMap<String, Value>) -> Value {
    fn any_of(value: &mut Value) {
        match value {
            Value::Object(obj) => {
                if let Some(options) = obj.remove("oneOf") {
                    obj.insert("anyOf".into(), options);
                }
                // `enum: []` admits nothing: a spec's slip (Discord's).
                if obj
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    obj.remove("enum");
                }
                obj.values_mut().for_each(any_of);
            }
            Value::Array(items) => items.iter_mut().for_each(any_of),
            _ => {}
        }
    }
    let mut root = with_referenced_defs(schema, defs);
    any_of(&mut root);
    root
}

/// `schema` with the named schemas it references (directly or through
/// each other) beside it as `$defs`: only those, so a validator for one
/// operation does not compile a whole large spec's schemas.
pub fn with_referenced_defs(schema: &Value, defs: &BTreeMap<String, Value>) -> Value {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(obj) => {
                if let Some(name) = obj
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(aip_ir::def_name)
                {
                    out.push(name);
                }
                obj.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut queue = Vec::new();
    refs(schema, &mut queue);
    let mut used = serde_json::Map::new();
    while let Some(name) = queue.pop() {
        if used.contains_key(&name) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            refs(def, &mut queue);
            used.insert(name, def.clone());
        }
    }
    let mut root = schema.clone();
    if let Value::Object(obj) = &mut root
        && !used.is_empty()
    {
        obj.insert("$defs".into(), Value::Object(used));
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments_and_decode_values() {
        let vars = match_path("/files/{name}.json", "/files/a%20b.json").expect("matches");
        assert_eq!(vars["name"], "a b");
        assert!(match_path("/files/{name}", "/files").is_none());
        assert!(match_path("/users/{id}", "/users/1/x").is_none());
        assert_eq!(
            match_path("/users/me", "/users/me").map(|v| v.len()),
            Some(0)
        );
        let vars = match_path("/commits/{sha}.{diffType}", "/commits/abc.diff").expect("matches");
        assert_eq!(
            (vars["sha"].as_str(), vars["diffType"].as_str()),
            ("abc", "diff")
        );
        assert!(match_path("/commits/{sha}.{diffType}", "/commits/abc").is_none());
        assert!(literal_len("/commits/{sha}.{diffType}") > literal_len("/commits/{sha}"));
    }
}
