//! OpenAPI 3.0 / 3.1 specifics: servers, security schemes, parameters,
//! request bodies and responses.

use std::collections::BTreeMap;

use aip_ir::{
    ApiKeyLocation, MediaType, ParamLocation, ParamStyle, Parameter, RequestBody, Response,
    SecurityScheme, Server, ServerVariable,
};
use serde_json::Value;

use crate::IngestError;
use crate::docs::Loc;
use crate::lower::{Ctx, OperationParts};

/// `servers` of the root document.
pub fn servers(ctx: &Ctx) -> Result<Vec<Server>, IngestError> {
    let loc = Ctx::root_loc("/servers");
    let mut out = Vec::new();
    for i in 0..ctx.len(&loc)? {
        let s = Ctx::child(&loc, &i.to_string());
        let Some(url) = ctx.opt_str(&s, "url")? else {
            return Err(ctx.docs.invalid(&s, "server has no url"));
        };
        let vars_loc = Ctx::child(&s, "variables");
        let mut variables = Vec::new();
        for name in ctx.keys(&vars_loc)? {
            let v = Ctx::child(&vars_loc, &name);
            let default = match ctx.docs.get(&Ctx::child(&v, "default")) {
                Some(Value::String(d)) => d.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(ctx
                        .docs
                        .invalid(&v, "server variable has no string default"));
                }
            };
            let allowed = match ctx.docs.get(&Ctx::child(&v, "enum")) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect(),
                _ => Vec::new(),
            };
            variables.push(ServerVariable {
                name,
                default,
                allowed,
                description: ctx.opt_str(&v, "description")?,
            });
        }
        out.push(Server {
            url,
            description: ctx.opt_str(&s, "description")?,
            variables,
        });
    }
    Ok(out)
}

/// `components.securitySchemes`.
pub fn security_schemes(ctx: &mut Ctx) -> Result<BTreeMap<String, SecurityScheme>, IngestError> {
    let loc = Ctx::root_loc("/components/securitySchemes");
    let mut out = BTreeMap::new();
    for name in ctx.keys(&loc)? {
        let s = ctx.docs.follow(&Ctx::child(&loc, &name))?;
        let scheme_type = ctx.opt_str(&s, "type")?.unwrap_or_default();
        let scheme = match scheme_type.as_str() {
            "apiKey" => {
                let Some(key_name) = ctx.opt_str(&s, "name")? else {
                    return Err(ctx.docs.invalid(&s, "apiKey security scheme has no name"));
                };
                let location = match ctx.opt_str(&s, "in")?.as_deref() {
                    Some("header") => ApiKeyLocation::Header,
                    Some("query") => ApiKeyLocation::Query,
                    Some("cookie") => ApiKeyLocation::Cookie,
                    other => {
                        return Err(ctx.docs.invalid(
                            &Ctx::child(&s, "in"),
                            format!(
                                "apiKey location must be header, query or cookie, found {other:?}"
                            ),
                        ));
                    }
                };
                SecurityScheme::ApiKey {
                    name: key_name,
                    location,
                }
            }
            "http" => match ctx
                .opt_str(&s, "scheme")?
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                Some("basic") => SecurityScheme::Basic,
                Some("bearer") => SecurityScheme::Bearer {
                    origin: "http-bearer".into(),
                },
                other => SecurityScheme::Unsupported {
                    declared: format!("http {}", other.unwrap_or("(no scheme)")),
                },
            },
            "oauth2" => SecurityScheme::Bearer {
                origin: "oauth2".into(),
            },
            "openIdConnect" => SecurityScheme::Bearer {
                origin: "openid-connect".into(),
            },
            other => SecurityScheme::Unsupported {
                declared: other.to_string(),
            },
        };
        out.insert(name, scheme);
    }
    Ok(out)
}

/// Parameters, request body and responses of one operation.
pub fn operation_parts(ctx: &mut Ctx, item: &Loc, op: &Loc) -> Result<OperationParts, IngestError> {
    let mut parameters: Vec<Parameter> = Vec::new();
    for list in [Ctx::child(item, "parameters"), Ctx::child(op, "parameters")] {
        for i in 0..ctx.len(&list)? {
            let p = ctx.docs.follow(&Ctx::child(&list, &i.to_string()))?;
            if let Some(param) = parameter(ctx, &p)? {
                // Operation-level parameters override path-level ones.
                parameters.retain(|q| !(q.name == param.name && q.location == param.location));
                parameters.push(param);
            }
        }
    }
    let body_loc = Ctx::child(op, "requestBody");
    let request_body = if ctx.has(&body_loc) {
        let b = ctx.docs.follow(&body_loc)?;
        Some(RequestBody {
            required: ctx.opt_bool(&b, "required")?.unwrap_or(false),
            description: ctx.opt_str(&b, "description")?,
            contents: contents(ctx, &Ctx::child(&b, "content"))?,
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
        responses.push(Response {
            description: ctx.opt_str(&r, "description")?,
            contents: contents(ctx, &Ctx::child(&r, "content"))?,
            status,
        });
    }
    Ok(OperationParts {
        parameters,
        request_body,
        responses,
    })
}

fn parameter(ctx: &mut Ctx, p: &Loc) -> Result<Option<Parameter>, IngestError> {
    let Some(name) = ctx.opt_str(p, "name")? else {
        return Err(ctx.docs.invalid(p, "parameter has no name"));
    };
    let location = match ctx.opt_str(p, "in")?.as_deref() {
        Some("path") => ParamLocation::Path,
        Some("query") => ParamLocation::Query,
        Some("header") => ParamLocation::Header,
        Some("cookie") => ParamLocation::Cookie,
        other => {
            return Err(ctx.docs.invalid(
                &Ctx::child(p, "in"),
                format!(
                    "parameter location must be path, query, header or cookie, found {other:?}"
                ),
            ));
        }
    };
    // OpenAPI: header parameters with these names are ignored.
    if location == ParamLocation::Header
        && ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
    {
        return Ok(None);
    }
    let style = match ctx.opt_str(p, "style")?.as_deref() {
        None => default_style(location),
        Some(s) => parse_style(s).ok_or_else(|| {
            ctx.docs.invalid(
                &Ctx::child(p, "style"),
                format!("unknown parameter style {s:?}"),
            )
        })?,
    };
    let explode = ctx
        .opt_bool(p, "explode")?
        .unwrap_or(style == ParamStyle::Form);
    let schema_loc = Ctx::child(p, "schema");
    let schema = if ctx.has(&schema_loc) {
        ctx.schema(&schema_loc)?
    } else {
        // `content` instead of `schema`: the value is serialised as that media type.
        let content = contents(ctx, &Ctx::child(p, "content"))?;
        content
            .into_iter()
            .find_map(|m| m.schema)
            .unwrap_or(Value::Bool(true))
    };
    Ok(Some(Parameter {
        required: location == ParamLocation::Path || ctx.opt_bool(p, "required")?.unwrap_or(false),
        allow_reserved: ctx.opt_bool(p, "allowReserved")?.unwrap_or(false),
        deprecated: ctx.opt_bool(p, "deprecated")?.unwrap_or(false),
        description: ctx.opt_str(p, "description")?,
        input_key: name.clone(),
        name,
        location,
        style,
        explode,
        schema,
    }))
}

/// The style a parameter gets when the spec gives none.
pub fn default_style(location: ParamLocation) -> ParamStyle {
    match location {
        ParamLocation::Path | ParamLocation::Header => ParamStyle::Simple,
        ParamLocation::Query | ParamLocation::Cookie => ParamStyle::Form,
    }
}

fn parse_style(s: &str) -> Option<ParamStyle> {
    Some(match s {
        "simple" => ParamStyle::Simple,
        "matrix" => ParamStyle::Matrix,
        "label" => ParamStyle::Label,
        "form" => ParamStyle::Form,
        "spaceDelimited" => ParamStyle::SpaceDelimited,
        "pipeDelimited" => ParamStyle::PipeDelimited,
        "deepObject" => ParamStyle::DeepObject,
        _ => return None,
    })
}

fn contents(ctx: &mut Ctx, loc: &Loc) -> Result<Vec<MediaType>, IngestError> {
    let mut out = Vec::new();
    for media_type in ctx.keys(loc)? {
        let m = Ctx::child(loc, &media_type);
        let schema_loc = Ctx::child(&m, "schema");
        let schema = if ctx.has(&schema_loc) {
            Some(ctx.schema(&schema_loc)?)
        } else {
            None
        };
        out.push(MediaType { media_type, schema });
    }
    Ok(out)
}
