//! Hints in the CLI's terms: its flags, never the HTTP API's fields.

use aip_hint::Hint;

/// A hint as the CLI words it (without the `hint: ` prefix).
pub fn render(hint: &Hint) -> String {
    match hint {
        Hint::StrictRefusedRepair { repair } => format!(
            "--strict refused this; without it aip-builder repairs it ({repair}) and reports a warning"
        ),
        Hint::WidenRefRoot { .. } => "pass --ref-root DIR with a folder that holds the spec and every file it references".into(),
        Hint::ExternalRefsNeedFiles => "save the spec and the files it references in one folder and pass the spec's path".into(),
        Hint::MissingReferencedFile => "a $ref's file path is relative to the file that holds the $ref; check the path and that the file is there".into(),
        Hint::RaiseSpecSizeLimit { limit } => format!(
            "the limit is {limit} bytes; raise it with --max-spec-bytes if this spec is legitimate"
        ),
        Hint::RaiseOperationLimit { limit } => format!(
            "the limit is {limit} operations; raise it with --max-operations if this spec is legitimate (compile time and memory grow with it)"
        ),
        Hint::AddProtoImportRoot => {
            "name the folder imports are relative to with --proto-path DIR".into()
        }
        Hint::ReportBug => "this is a bug in aip-builder; please report it with the spec".into(),
    }
}
