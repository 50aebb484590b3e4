//! The dialect-independent walk over a spec: paths, operations, security
//! requirements, operation ids. Dialect specifics live in `openapi3` and
//! `swagger2`.

use std::collections::{BTreeMap, HashMap, HashSet};

use aip_ir::{
    Api, HttpMethod, Operation, Parameter, SecurityRequirements, SourceInfo, WarningKind,
};
use serde_json::Value;

use crate::docs::{DocSet, Loc};
use crate::repairs::{Defect, Repairs};
use crate::schema::{Dialect, SchemaLowerer};
use crate::{IngestError, openapi3, pointer, swagger2};

/// The state shared by one lowering.
pub struct Ctx {
    /// The documents of the spec.
    pub docs: DocSet,
    /// Schema lowering and the definitions collected so far.
    pub schemas: SchemaLowerer,
    /// The spec dialect.
    pub dialect: Dialect,
}

/// Parts of an operation that differ between dialects.
pub struct OperationParts {
    /// Parameters, merged with path-level ones.
    pub parameters: Vec<Parameter>,
    /// Request body.
    pub request_body: Option<aip_ir::RequestBody>,
    /// Responses.
    pub responses: Vec<aip_ir::Response>,
}

impl Ctx {
    /// A location in the root document.
    pub fn root_loc(pointer: &str) -> Loc {
        Loc {
            doc: 0,
            pointer: pointer.to_string(),
        }
    }

    /// `loc` extended by `token`.
    pub fn child(loc: &Loc, token: &str) -> Loc {
        Loc {
            doc: loc.doc,
            pointer: pointer::push(&loc.pointer, token),
        }
    }

    /// Optional string at `loc/key`; present but not a string is an error.
    pub fn opt_str(&self, loc: &Loc, key: &str) -> Result<Option<String>, IngestError> {
        match self.docs.get(loc).and_then(|v| v.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.docs.invalid(
                &Ctx::child(loc, key),
                format!("expected a string, found {}", crate::schema::kind(other)),
            )),
        }
    }

    /// Optional boolean at `loc/key`.
    pub fn opt_bool(&self, loc: &Loc, key: &str) -> Result<Option<bool>, IngestError> {
        match self.docs.get(loc).and_then(|v| v.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.docs.invalid(
                &Ctx::child(loc, key),
                format!("expected a boolean, found {}", crate::schema::kind(other)),
            )),
        }
    }

    /// The keys of the object at `loc` (empty when absent); not an object is an error.
    pub fn keys(&self, loc: &Loc) -> Result<Vec<String>, IngestError> {
        match self.docs.get(loc) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map.keys().cloned().collect()),
            Some(other) => Err(self.docs.invalid(
                loc,
                format!("expected an object, found {}", crate::schema::kind(other)),
            )),
        }
    }

    /// The length of the array at `loc` (0 when absent); not an array is an error.
    pub fn len(&self, loc: &Loc) -> Result<usize, IngestError> {
        match self.docs.get(loc) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Array(items)) => Ok(items.len()),
            Some(other) => Err(self.docs.invalid(
                loc,
                format!("expected an array, found {}", crate::schema::kind(other)),
            )),
        }
    }

    /// Whether there is a value at `loc`.
    pub fn has(&self, loc: &Loc) -> bool {
        !matches!(self.docs.get(loc), None | Some(Value::Null))
    }

    /// Lowers the schema at `loc`.
    pub fn schema(&mut self, loc: &Loc) -> Result<Value, IngestError> {
        self.schemas.lower_at(&mut self.docs, loc)
    }
}

/// Options that shape the IR.
pub struct LowerOptions {
    /// The module name.
    pub name: String,
    /// Refuse repairs instead of making them.
    pub strict: bool,
    /// Most operations accepted (counted before any is lowered).
    pub max_operations: usize,
    /// Provenance.
    pub source: SourceInfo,
}

/// Lowers the whole spec held in `docs`.
pub fn lower_api(docs: DocSet, dialect: Dialect, opts: LowerOptions) -> Result<Api, IngestError> {
    let mut ctx = Ctx {
        docs,
        schemas: SchemaLowerer::new(dialect, Repairs::new(opts.strict)),
        dialect,
    };
    let root = Ctx::root_loc("");
    let info = Ctx::child(&root, "info");
    let title = ctx
        .opt_str(&info, "title")?
        .unwrap_or_else(|| opts.name.clone());
    let api_version = ctx.opt_str(&info, "version")?.unwrap_or_default();
    let description = ctx.opt_str(&info, "description")?;

    let (servers, security_schemes) = match dialect {
        Dialect::Swagger2 => (
            swagger2::servers(&ctx)?,
            swagger2::security_schemes(&mut ctx)?,
        ),
        _ => (
            openapi3::servers(&ctx)?,
            openapi3::security_schemes(&mut ctx)?,
        ),
    };
    let global_security =
        security_requirements(&ctx, &Ctx::child(&root, "security"), &security_schemes)?
            .unwrap_or_default();
    count_operations(&mut ctx, opts.max_operations)?;
    let operations = operations(&mut ctx, &global_security, &security_schemes)?;
    if operations.is_empty() {
        return Err(IngestError::NoOperations {
            location: ctx.docs.location(0).to_string(),
        });
    }
    let Ctx {
        mut docs, schemas, ..
    } = ctx;
    let (schemas, repairs) = schemas.finish(&mut docs)?;
    let mut source = opts.source;
    source.warnings = repairs.into_warnings();
    let api = Api {
        name: opts.name,
        title,
        api_version,
        description,
        source,
        protocol: aip_ir::Protocol::Rest,
        servers,
        security_schemes,
        operations,
        schemas,
        descriptor_set: None,
    };
    Ok(api)
}

/// Counts the operations (path items times methods) before any is
/// lowered, so a spec over the limit is refused in the time it takes to
/// parse it.
fn count_operations(ctx: &mut Ctx, limit: usize) -> Result<(), IngestError> {
    let paths = Ctx::root_loc("/paths");
    // Inline path items are counted on the value itself (no pointer
    // lookups: this runs over 100,000-path specs); `$ref`'d ones after.
    let (mut count, referenced) = match ctx.docs.get(&paths) {
        Some(Value::Object(items)) => {
            let mut count = 0usize;
            let mut referenced = Vec::new();
            for (path, item) in items.iter().filter(|(p, _)| p.starts_with('/')) {
                if item.get("$ref").is_some() {
                    referenced.push(path.clone());
                } else {
                    count += methods_in(item);
                }
            }
            (count, referenced)
        }
        _ => return Ok(()),
    };
    for path in referenced {
        if count > limit {
            break;
        }
        let item = ctx.docs.follow(&Ctx::child(&paths, &path))?;
        count += ctx.docs.get(&item).map_or(0, methods_in);
    }
    if count > limit {
        return Err(IngestError::TooManyOperations {
            location: ctx.docs.location(0).to_string(),
            count,
            limit,
        });
    }
    Ok(())
}

/// The operations a parsed OpenAPI/Swagger document defines in its
/// `paths` itself (path items behind a `$ref` are not followed here): a
/// cheap first check of the operation limit on a value already in memory.
pub fn inline_operation_count(document: &Value) -> usize {
    document
        .get("paths")
        .and_then(Value::as_object)
        .map_or(0, |items| {
            items
                .iter()
                .filter(|(p, _)| p.starts_with('/'))
                .map(|(_, item)| methods_in(item))
                .sum()
        })
}

/// How many operations a path item defines.
fn methods_in(item: &Value) -> usize {
    HttpMethod::ALL
        .iter()
        .filter(|m| item.get(m.key()).is_some_and(|v| !v.is_null()))
        .count()
}

fn operations(
    ctx: &mut Ctx,
    global_security: &SecurityRequirements,
    schemes: &BTreeMap<String, aip_ir::SecurityScheme>,
) -> Result<Vec<Operation>, IngestError> {
    let paths = Ctx::root_loc("/paths");
    let mut ops = Vec::new();
    let mut pointers = Vec::new();
    for path in ctx.keys(&paths)? {
        let item_ref = Ctx::child(&paths, &path);
        if !path.starts_with('/') {
            // Extensions (`x-...`) may sit beside paths.
            if path.starts_with("x-") {
                continue;
            }
            return Err(ctx.docs.invalid(&item_ref, "path must start with '/'"));
        }
        let template = path_template(ctx, &item_ref, &path)?;
        let item = ctx.docs.follow(&item_ref)?;
        for method in HttpMethod::ALL {
            let op_loc = Ctx::child(&item, method.key());
            if !ctx.has(&op_loc) {
                continue;
            }
            let op = operation(
                ctx,
                &template,
                method,
                &item,
                &op_loc,
                global_security,
                schemes,
            )?;
            pointers.push(Ctx::child(&item_ref, method.key()).pointer);
            ops.push(op);
        }
    }
    rename_duplicate_ids(ctx, &mut ops, &pointers)?;
    make_derived_ids_unique(&mut ops);
    Ok(ops)
}

/// The path template of a `paths` key. A variable left unclosed at the end
/// of its segment (`/files/{name`, as a generator emitted it) is closed,
/// with a warning; other unbalanced braces are errors.
fn path_template(ctx: &mut Ctx, at: &Loc, path: &str) -> Result<String, IngestError> {
    let mut repaired = String::with_capacity(path.len() + 1);
    let mut closed = Vec::new();
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            repaired.push('/');
        }
        let mut open = false;
        for ch in segment.chars() {
            match ch {
                '{' if open => {
                    return Err(ctx
                        .docs
                        .invalid(at, "path template opens a variable inside another"));
                }
                '}' if !open => {
                    return Err(ctx
                        .docs
                        .invalid(at, "path template closes a variable it never opened"));
                }
                '{' => open = true,
                '}' => open = false,
                _ => {}
            }
            repaired.push(ch);
        }
        if open {
            repaired.push('}');
            closed.push(segment.to_string());
        }
    }
    if !closed.is_empty() {
        let location = ctx.docs.location(at.doc).to_string();
        ctx.schemas.repairs.repair(Defect {
            kind: WarningKind::MalformedPathTemplate,
            file: &location,
            pointer: &at.pointer,
            problem: format!(
                "path template {path:?} leaves {} unclosed",
                closed
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            repair: format!("it is read as {repaired:?}"),
        })?;
    }
    Ok(repaired)
}

/// A repeated `operationId` (gateways emit one per binding of the same
/// method) keeps its name on its first operation in document order; each
/// later one becomes `<id>_2`, `<id>_3`, ... (skipping names the spec
/// uses), with a warning naming both places.
fn rename_duplicate_ids(
    ctx: &mut Ctx,
    ops: &mut [Operation],
    pointers: &[String],
) -> Result<(), IngestError> {
    let mut taken: HashSet<String> = ops
        .iter()
        .filter(|o| !o.id_derived)
        .map(|o| o.id.clone())
        .collect();
    let mut first_at: HashMap<String, String> = HashMap::new();
    let root = ctx.docs.location(0).to_string();
    for (op, here) in ops.iter_mut().zip(pointers).filter(|(o, _)| !o.id_derived) {
        let here = here.clone();
        let Some(first) = first_at.get(&op.id) else {
            first_at.insert(op.id.clone(), here);
            continue;
        };
        let mut n = 2;
        let renamed = loop {
            let candidate = format!("{}_{n}", op.id);
            if !taken.contains(&candidate) {
                break candidate;
            }
            n += 1;
        };
        ctx.schemas.repairs.repair(Defect {
            kind: WarningKind::DuplicateOperationId,
            file: &root,
            pointer: &here,
            problem: format!("operationId {:?} is also the id of #{first}", op.id),
            repair: format!("this operation is named {renamed:?}"),
        })?;
        taken.insert(renamed.clone());
        op.id = renamed;
        op.intent = aip_ir::intent_for(&op.id);
    }
    Ok(())
}

fn operation(
    ctx: &mut Ctx,
    path: &str,
    method: HttpMethod,
    item: &Loc,
    op_loc: &Loc,
    global_security: &SecurityRequirements,
    schemes: &BTreeMap<String, aip_ir::SecurityScheme>,
) -> Result<Operation, IngestError> {
    let (id, id_derived) = match ctx.opt_str(op_loc, "operationId")? {
        Some(id) if !id.trim().is_empty() => (id, false),
        _ => (derive_operation_id(method, path), true),
    };
    let parts = match ctx.dialect {
        Dialect::Swagger2 => swagger2::operation_parts(ctx, item, op_loc)?,
        _ => openapi3::operation_parts(ctx, item, op_loc)?,
    };
    let security = security_requirements(ctx, &Ctx::child(op_loc, "security"), schemes)?
        .unwrap_or_else(|| global_security.clone());
    let tags = match ctx.docs.get(&Ctx::child(op_loc, "tags")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut parameters = parts.parameters;
    assign_input_keys(&mut parameters, parts.request_body.is_some());
    Ok(Operation {
        intent: aip_ir::intent_for(&id),
        id,
        id_derived,
        method,
        path: path.to_string(),
        summary: ctx.opt_str(op_loc, "summary")?,
        description: ctx.opt_str(op_loc, "description")?,
        tags,
        deprecated: ctx.opt_bool(op_loc, "deprecated")?.unwrap_or(false),
        parameters,
        request_body: parts.request_body,
        responses: parts.responses,
        security,
        pointer: op_loc.pointer.clone(),
        rpc: None,
    })
}

/// `GET /users/{id}/posts` -> `get_users_by_id_posts`.
pub fn derive_operation_id(method: HttpMethod, path: &str) -> String {
    let mut id = method.key().to_string();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        if let Some(var) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            id.push_str("by_");
            id.push_str(var);
        } else {
            id.push_str(segment);
        }
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn make_derived_ids_unique(ops: &mut [Operation]) {
    let mut taken: HashSet<String> = ops
        .iter()
        .filter(|o| !o.id_derived)
        .map(|o| o.id.clone())
        .collect();
    for op in ops.iter_mut().filter(|o| o.id_derived) {
        let base = op.id.clone();
        let mut n = 2;
        while taken.contains(&op.id) {
            op.id = format!("{base}_{n}");
            n += 1;
        }
        op.intent = aip_ir::intent_for(&op.id);
        taken.insert(op.id.clone());
    }
}

/// Input keys: the wire name, unless it collides (with another parameter of
/// another location, or with `body`): then `<location>_<name>`.
fn assign_input_keys(params: &mut [Parameter], has_body: bool) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in params.iter() {
        *counts.entry(p.name.clone()).or_default() += 1;
    }
    let mut taken: Vec<String> = if has_body {
        vec!["body".into()]
    } else {
        Vec::new()
    };
    for p in params.iter_mut() {
        let clash = counts.get(&p.name).copied().unwrap_or(0) > 1 || taken.contains(&p.name);
        let base = if clash {
            let loc = match p.location {
                aip_ir::ParamLocation::Path => "path",
                aip_ir::ParamLocation::Query => "query",
                aip_ir::ParamLocation::Header => "header",
                aip_ir::ParamLocation::Cookie => "cookie",
            };
            format!("{loc}_{}", p.name)
        } else {
            p.name.clone()
        };
        let mut key = base.clone();
        let mut n = 2;
        while taken.contains(&key) {
            key = format!("{base}_{n}");
            n += 1;
        }
        taken.push(key.clone());
        p.input_key = key;
    }
}

/// Reads a `security` array: `None` when absent, `Some(vec![])` for `[]`.
pub fn security_requirements(
    ctx: &Ctx,
    loc: &Loc,
    schemes: &BTreeMap<String, aip_ir::SecurityScheme>,
) -> Result<Option<SecurityRequirements>, IngestError> {
    if !ctx.has(loc) {
        return Ok(None);
    }
    let mut alternatives = Vec::new();
    for i in 0..ctx.len(loc)? {
        let alt_loc = Ctx::child(loc, &i.to_string());
        let names = ctx.keys(&alt_loc)?;
        for name in &names {
            if !schemes.contains_key(name) {
                return Err(ctx.docs.invalid(
                    &Ctx::child(&alt_loc, name),
                    format!("security requirement names an undefined security scheme {name:?}"),
                ));
            }
        }
        // `{}` is an alternative that needs nothing: security is optional.
        alternatives.push(names);
    }
    Ok(Some(alternatives))
}
