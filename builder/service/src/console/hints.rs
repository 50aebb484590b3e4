//! Hints in the console's terms: the Add Vendor Spec form's fields, never
//! the API's request fields or the CLI's flags.

use aip_hint::Hint;

/// A hint as the console words it.
pub fn render(hint: &Hint) -> String {
    match hint {
        Hint::StrictRefusedRepair { repair } => format!(
            "Strict is ticked; without it the service repairs this ({repair}) and shows a warning"
        ),
        Hint::WidenRefRoot { .. } | Hint::ExternalRefsNeedFiles => {
            "external $refs resolve only among the files you upload: choose the spec and every file it references (or an archive of them), and name the entry file".into()
        }
        Hint::MissingReferencedFile => {
            "a $ref's path is relative to the file that holds it: upload that file too, in the same folder structure (choose the folder, or an archive)".into()
        }
        Hint::RaiseSpecSizeLimit { limit } => {
            format!("this service accepts spec documents of at most {limit} bytes")
        }
        Hint::RaiseOperationLimit { limit } => format!(
            "this service builds adapters of at most {limit} operations; split the spec, or ask the operator to raise max_operations"
        ),
        Hint::AddProtoImportRoot => {
            "upload every imported .proto file too, at the path the import names (choose the proto folder, or an archive of it)".into()
        }
        Hint::ReportBug => "this is a bug in aip-builder; please report it with the spec".into(),
    }
}
