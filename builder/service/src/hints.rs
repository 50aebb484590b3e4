//! Hints in the HTTP API's terms: its request fields, never the CLI's flags.

use aip_hint::Hint;

/// A hint as the API words it.
pub fn render(hint: &Hint) -> String {
    match hint {
        Hint::StrictRefusedRepair { repair } => format!(
            "the request set \"strict\": true; without it the service repairs this ({repair}) and reports a warning"
        ),
        Hint::WidenRefRoot { .. } => "external $refs resolve only among the files sent with the request: send the referenced files too (`files`, or `archive` with `entry`)".into(),
        Hint::ExternalRefsNeedFiles => "send the spec and the files it references as `files` (or `archive`) with `entry`".into(),
        Hint::MissingReferencedFile => "a $ref's path is relative to the file that holds it; send that file too, at that path (`files` or `archive`)".into(),
        Hint::RaiseSpecSizeLimit { limit } => format!(
            "this service accepts spec documents of at most {limit} bytes"
        ),
        Hint::RaiseOperationLimit { limit } => format!(
            "this service builds adapters of at most {limit} operations; split the spec, or ask its operator to raise `max_operations`"
        ),
        Hint::AddProtoImportRoot => "send every imported .proto file too, at the path the import names (`files` or `archive`)".into(),
        Hint::ReportBug => "this is a bug in aip-builder; please report it with the spec".into(),
    }
}
