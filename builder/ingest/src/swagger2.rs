//! Swagger 2.0 specifics, converted to the same IR as OpenAPI 3: `host` +
//! `basePath` + `schemes` become servers, `body`/`formData` parameters become
//! a request body, `produces` gives response media types.

use std::collections::BTreeMap;

use aip_ir::{
    ApiKeyLocation, MediaType, ParamLocation, ParamStyle, Parameter, RequestBody, Response,
    SecurityScheme, Server,
};
use serde_json::{Map, Value, json};

use crate::IngestError;
use crate::docs::Loc;
use crate::lower::{Ctx, OperationParts};
use crate::openapi3::default_style;

/// Keywords a non-body Swagger parameter shares with JSON Schema.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
    "x-nullable",
];

/// Servers from `schemes`, `host` and `basePath`.
pub fn servers(ctx: &Ctx) -> Result<Vec<Server>, IngestError> {
    let root = Ctx::root_loc("");
    let host = ctx.opt_str(&root, "host")?;
    let base_path = ctx.opt_str(&root, "basePath")?.unwrap_or_default();
    let schemes: Vec<String> = match ctx.docs.get(&Ctx::child(&root, "schemes")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let Some(host) = host else {
        if base_path.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![Server {
            url: base_path,
            description: None,
            variables: Vec::new(),
        }]);
    };
    let mut http_schemes: Vec<&str> = schemes
        .iter()
        .map(String::as_str)
        .filter(|s| *s == "https" || *s == "http")
        .collect();
    if http_schemes.is_empty() {
        http_schemes.push("https");
    }
    // Prefer https when both are offered.
    http_schemes.sort_by_key(|s| *s != "https");
    Ok(http_schemes
        .into_iter()
        .map(|scheme| Server {
            url: format!("{scheme}://{host}{base_path}"),
            description: None,
            variables: Vec::new(),
        })
        .collect())
}

/// `securityDefinitions`.
pub fn security_schemes(ctx: &mut Ctx) -> Result<BTreeMap<String, SecurityScheme>, IngestError> {
    let loc = Ctx::root_loc("/securityDefinitions");
    let mut out = BTreeMap::new();
    for name in ctx.keys(&loc)? {
        let s = ctx.docs.follow(&Ctx::child(&loc, &name))?;
        let scheme = match ctx.opt_str(&s, "type")?.as_deref() {
            Some("basic") => SecurityScheme::Basic,
            Some("oauth2") => SecurityScheme::Bearer {
                origin: "oauth2".into(),
            },
            Some("apiKey") => {
                let Some(key_name) = ctx.opt_str(&s, "name")? else {
                    return Err(ctx
                        .docs
                        .invalid(&s, "apiKey security definition has no name"));
                };
                let location = match ctx.opt_str(&s, "in")?.as_deref() {
                    Some("header") => ApiKeyLocation::Header,
                    Some("query") => ApiKeyLocation::Query,
                    other => {
                        return Err(ctx.docs.invalid(
                            &Ctx::child(&s, "in"),
                            format!("apiKey location must be header or query, found {other:?}"),
                        ));
                    }
                };
                SecurityScheme::ApiKey {
                    name: key_name,
                    location,
                }
            }
            other => SecurityScheme::Unsupported {
                declared: other.unwrap_or("(no type)").to_string(),
            },
        };
        out.insert(name, scheme);
    }
    Ok(out)
}

fn media_types(ctx: &Ctx, op: &Loc, key: &str) -> Vec<String> {
    for loc in [Ctx::child(op, key), Ctx::root_loc(&format!("/{key}"))] {
        if let Some(Value::Array(items)) = ctx.docs.get(&loc) {
            return items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
        }
    }
    Vec::new()
}

/// Parameters, request body and responses of one operation.
pub fn operation_parts(ctx: &mut Ctx, item: &Loc, op: &Loc) -> Result<OperationParts, IngestError> {
    let consumes = media_types(ctx, op, "consumes");
    let produces = media_types(ctx, op, "produces");
    let mut parameters: Vec<Parameter> = Vec::new();
    let mut body: Option<(bool, Option<String>, Value)> = None;
    let mut form_fields: Vec<(String, bool, Value, bool)> = Vec::new();
    let mut raw: Vec<(Loc, String, String)> = Vec::new();
    for list in [Ctx::child(item, "parameters"), Ctx::child(op, "parameters")] {
        for i in 0..ctx.len(&list)? {
            let p = ctx.docs.follow(&Ctx::child(&list, &i.to_string()))?;
            let Some(name) = ctx.opt_str(&p, "name")? else {
                return Err(ctx.docs.invalid(&p, "parameter has no name"));
            };
            let location = ctx.opt_str(&p, "in")?.unwrap_or_default();
            raw.retain(|(_, n, l)| !(n == &name && l == &location));
            raw.push((p, name, location));
        }
    }
    for (p, name, location) in raw {
        let required = ctx.opt_bool(&p, "required")?.unwrap_or(false);
        let description = ctx.opt_str(&p, "description")?;
        match location.as_str() {
            "body" => {
                let schema = ctx.schema(&Ctx::child(&p, "schema"))?;
                body = Some((required, description, schema));
            }
            "formData" => {
                let schema = inline_schema(ctx, &p)?;
                let is_file = ctx.opt_str(&p, "type")?.as_deref() == Some("file");
                form_fields.push((name, required, schema, is_file));
            }
            "path" | "query" | "header" => {
                let location = match location.as_str() {
                    "path" => ParamLocation::Path,
                    "query" => ParamLocation::Query,
                    _ => ParamLocation::Header,
                };
                if location == ParamLocation::Header
                    && ["accept", "content-type", "authorization"]
                        .contains(&name.to_ascii_lowercase().as_str())
                {
                    continue;
                }
                let (style, explode) = match ctx.opt_str(&p, "collectionFormat")?.as_deref() {
                    Some("multi") => (ParamStyle::Form, true),
                    Some("ssv") => (ParamStyle::SpaceDelimited, false),
                    Some("pipes") => (ParamStyle::PipeDelimited, false),
                    Some("tsv") => {
                        return Err(IngestError::NotSupported(format!(
                            "{}#{}: collectionFormat tsv",
                            ctx.docs.location(p.doc),
                            p.pointer
                        )));
                    }
                    _ => (default_style(location), false),
                };
                parameters.push(Parameter {
                    schema: inline_schema(ctx, &p)?,
                    input_key: name.clone(),
                    name,
                    location,
                    style,
                    explode,
                    required: required || location == ParamLocation::Path,
                    allow_reserved: false,
                    deprecated: false,
                    description,
                });
            }
            other => {
                return Err(ctx.docs.invalid(
                    &Ctx::child(&p, "in"),
                    format!("parameter location must be body, formData, path, query or header, found {other:?}"),
                ));
            }
        }
    }
    let request_body = if let Some((required, description, schema)) = body {
        let types = if consumes.is_empty() {
            vec!["application/json".to_string()]
        } else {
            consumes
        };
        Some(RequestBody {
            required,
            description,
            contents: types
                .into_iter()
                .map(|media_type| MediaType {
                    media_type,
                    schema: Some(schema.clone()),
                })
                .collect(),
        })
    } else if !form_fields.is_empty() {
        let has_file = form_fields.iter().any(|f| f.3);
        let media_type = consumes
            .iter()
            .find(|c| {
                c.as_str() == "multipart/form-data"
                    || c.as_str() == "application/x-www-form-urlencoded"
            })
            .cloned()
            .unwrap_or_else(|| {
                if has_file {
                    "multipart/form-data"
                } else {
                    "application/x-www-form-urlencoded"
                }
                .to_string()
            });
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (name, req, schema, _) in &form_fields {
            properties.insert(name.clone(), schema.clone());
            if *req {
                required.push(json!(name));
            }
        }
        let any_required = !required.is_empty();
        Some(RequestBody {
            required: any_required,
            description: None,
            contents: vec![MediaType {
                media_type,
                schema: Some(
                    json!({"type": "object", "properties": properties, "required": required}),
                ),
            }],
        })
    } else {
        None
    };
    let responses_loc = Ctx::child(op, "responses");
    let mut responses = Vec::new();
    for status in ctx.keys(&responses_loc)? {
        if status.starts_with("x-") {
            continue;
        }
        let r = ctx.docs.follow(&Ctx::child(&responses_loc, &status))?;
        let schema_loc = Ctx::child(&r, "schema");
        let contents = if ctx.has(&schema_loc) {
            let schema = ctx.schema(&schema_loc)?;
            let types = if produces.is_empty() {
                vec!["application/json".to_string()]
            } else {
                produces.clone()
            };
            types
                .into_iter()
                .map(|media_type| MediaType {
                    media_type,
                    schema: Some(schema.clone()),
                })
                .collect()
        } else {
            Vec::new()
        };
        responses.push(Response {
            description: ctx.opt_str(&r, "description")?,
            contents,
            status,
        });
    }
    Ok(OperationParts {
        parameters,
        request_body,
        responses,
    })
}

/// The JSON Schema of a non-body parameter, from its inline keywords.
fn inline_schema(ctx: &mut Ctx, p: &Loc) -> Result<Value, IngestError> {
    let Some(Value::Object(obj)) = ctx.docs.get(p).cloned() else {
        return Ok(Value::Bool(true));
    };
    let mut schema = Map::new();
    for key in SCHEMA_KEYS {
        if let Some(v) = obj.get(*key) {
            schema.insert((*key).to_string(), v.clone());
        }
    }
    // Lower through the schema lowerer so `items.$ref`, nullable and
    // `type: file` are handled like everywhere else.
    ctx.schemas
        .lower_value(&mut ctx.docs, p, &Value::Object(schema))
}
