//! `aip-builder describe <MODULE_DIR|SPEC>`

use std::path::Path;

use clap::Args;
use serde_json::Value;

use crate::exit::{CliError, internal, user};
use crate::progress::{Format, Progress};
use crate::spec_args::SpecArgs;

/// List the operations of a module (by calling its `describe()`) or of a
/// spec: id, intent, method, path and input schema.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    spec: SpecArgs,
    /// Output format (`json` prints the full describe document).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl Opts {
    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        let target = Path::new(&self.spec.spec);
        let document: Value = if target.join("manifest.yaml").is_file() {
            let module = aip_register::open_module(target).map_err(user)?;
            let text = if module.manifest.runtime.kind == aip_register::Runtime::GRPC {
                // A service image: run its executable on a loopback port
                // and ask `Describe`, as the platform would.
                aip_host::service::ServiceProcess::start(&module.payload, &[("AIP_LOG", "info")])
                    .and_then(|service| service.describe())
                    .map_err(internal)?
            } else {
                crate::module_host::instantiate(&module, aip_host::AllowList::default())?
                    .describe()
                    .map_err(internal)?
            };
            serde_json::from_str(&text)
                .map_err(|e| internal(anyhow::anyhow!("describe returned invalid JSON: {e}")))?
        } else {
            let mut progress = Progress::new(Format::Json);
            let ingested = self.spec.ingest(&mut progress)?;
            aip_render::describe_document(&ingested.api)
        };
        match self.format {
            Format::Json => crate::outln!("{document}"),
            Format::Text => print_table(&document),
        }
        Ok(())
    }
}

fn print_table(document: &Value) {
    let empty = Vec::new();
    let ops = document
        .get("operations")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    crate::outln!(
        "{} {} ({} operations)",
        document.get("name").and_then(Value::as_str).unwrap_or(""),
        document
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or(""),
        ops.len()
    );
    for op in ops {
        let s = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("");
        let kind = op
            .get("kind")
            .and_then(Value::as_str)
            .map(|k| format!("  ({k})"))
            .unwrap_or_default();
        crate::outln!(
            "{}  intent={}  {} {}{kind}",
            s("id"),
            s("intent"),
            s("method"),
            s("path")
        );
        let schema = op.get("input_schema");
        let required: Vec<&str> = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let stream_of = schema
            .and_then(|s| s.get("items"))
            .and_then(|i| i.get("$ref"))
            .and_then(Value::as_str);
        if let Some(message) = schema.and_then(|s| s.get("$ref")).and_then(Value::as_str) {
            crate::outln!("    input {}", def_label(message));
        } else if let Some(message) = stream_of {
            crate::outln!("    input stream of {}", def_label(message));
        } else if let Some(props) = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        {
            let fields: Vec<String> = props
                .iter()
                .map(|(name, prop)| {
                    let ty = prop
                        .get("type")
                        .map(|t| t.to_string().replace('"', ""))
                        .or_else(|| prop.get("$ref").and_then(Value::as_str).map(def_label))
                        .unwrap_or_else(|| "any".into());
                    let mark = if required.contains(&name.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{name}{mark}: {ty}")
                })
                .collect();
            if !fields.is_empty() {
                crate::outln!("    input {{ {} }}", fields.join(", "));
            }
        }
    }
}

/// A schema reference as the table shows it: the schema's name.
fn def_label(reference: &str) -> String {
    aip_ir::def_name(reference).unwrap_or_else(|| reference.to_string())
}
