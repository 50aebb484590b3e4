//! The report for a person: plain text for a terminal, Markdown for a
//! pull-request comment (grouped by operation, breaking first). JSON is
//! the [`Report`]'s own serialisation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::{Change, Report, Severity};

/// One line per change, breaking first, then a summary line.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for change in &report.changes {
        let _ = writeln!(
            out,
            "{:<12} {:<32} {}{}{}",
            change.severity.as_str(),
            change.rule.id(),
            change
                .operation
                .as_deref()
                .map(|op| format!("{op}: "))
                .unwrap_or_default(),
            change.message,
            also(change)
        );
        let _ = match (&change.old, &change.new) {
            (Some(old), Some(new)) if old.pointer == new.pointer => {
                writeln!(out, "{:45}at {}", "", pointer_only(new))
            }
            (Some(old), Some(new)) => writeln!(out, "{:45}at {old} -> {new}", ""),
            (Some(old), None) => writeln!(out, "{:45}was at {old}", ""),
            (None, Some(new)) => writeln!(out, "{:45}at {new}", ""),
            (None, None) => Ok(()),
        };
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}

/// ` (also in 3 other operations: a, b, c)`, naming at most five.
fn also(change: &Change) -> String {
    match change.also_in.len() {
        0 => String::new(),
        n => {
            let named: Vec<&str> = change.also_in.iter().take(5).map(String::as_str).collect();
            let more = if n > 5 { ", ..." } else { "" };
            format!(
                " (also in {n} other operation(s): {}{more})",
                named.join(", ")
            )
        }
    }
}

/// A place without its file (both versions have the same pointer).
fn pointer_only(place: &crate::Place) -> String {
    let text = place.to_string();
    text.strip_prefix(&place.file)
        .unwrap_or(&text)
        .trim_start_matches(": ")
        .to_string()
}

/// `bump: major (3 breaking, 5 non-breaking, 2 docs)`.
fn summary(report: &Report) -> String {
    let count = |s: Severity| report.changes.iter().filter(|c| c.severity == s).count();
    format!(
        "bump: {} ({} breaking, {} non-breaking, {} docs)",
        report.bump.as_str(),
        count(Severity::Breaking),
        count(Severity::NonBreaking),
        count(Severity::Docs)
    )
}

/// Markdown for a pull-request comment: the bump, then a section per
/// operation (operations with a breaking change first), each a table.
pub fn markdown(report: &Report, title: &str) -> String {
    let mut out = format!("### {}\n\n**{}**\n", escape(title), summary(report));
    if let Some(change) = report.changes.first() {
        let file = |p: &Option<crate::Place>| p.as_ref().map(|p| code(&p.file));
        if let (Some(old), Some(new)) = (
            file(&change.old).or_else(|| file(&change.new)),
            file(&change.new).or_else(|| file(&change.old)),
        ) {
            let _ = writeln!(
                out,
                "\nFrom {old} to {new}; places are JSON pointers (OpenAPI) or full names (protobuf)."
            );
        }
    }
    if report.changes.is_empty() {
        out.push_str("\nThe adapter's contract is unchanged.\n");
        return out;
    }
    let mut groups: BTreeMap<(Severity, String), Vec<&Change>> = BTreeMap::new();
    let mut worst: BTreeMap<String, Severity> = BTreeMap::new();
    for change in &report.changes {
        let op = change.operation.clone().unwrap_or_default();
        let entry = worst.entry(op).or_insert(change.severity);
        *entry = (*entry).min(change.severity);
    }
    for change in &report.changes {
        let op = change.operation.clone().unwrap_or_default();
        groups.entry((worst[&op], op)).or_default().push(change);
    }
    for ((_, op), changes) in groups {
        let heading = if op.is_empty() {
            "The adapter".to_string()
        } else {
            format!("Operation {}", escape(&op))
        };
        let _ = write!(
            out,
            "\n#### {heading}\n\n| severity | rule | change | where |\n| --- | --- | --- | --- |\n"
        );
        for change in changes {
            let at = match (&change.old, &change.new) {
                (Some(old), Some(new)) if old.pointer == new.pointer => code(&pointer_only(new)),
                (Some(old), Some(new)) => {
                    format!(
                        "{} → {}",
                        code(&pointer_only(old)),
                        code(&pointer_only(new))
                    )
                }
                (Some(old), None) => format!("was {}", code(&pointer_only(old))),
                (None, Some(new)) => code(&pointer_only(new)),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                change.severity.as_str(),
                change.rule.id(),
                escape(&format!("{}{}", change.message, also(change))),
                at
            );
        }
    }
    out
}

/// Text as a Markdown code span inside a table cell.
fn code(text: &str) -> String {
    format!(
        "`{}`",
        text.replace('`', "'")
            .replace('|', "\\|")
            .replace(['\n', '\r'], " ")
    )
}

/// Spec text as inert Markdown: no HTML, no table breaks, no mentions.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push('\''),
            '@' => out.push_str("@\u{200b}"),
            '\n' | '\r' => out.push(' '),
            '*' | '_' | '[' | ']' | '#' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bump, Change, Place, Rule};

    #[test]
    fn spec_text_stays_inert_in_markdown() {
        let hostile = "<img src=x onerror=alert(1)> | @org/team `code` [link](javascript:x)";
        let place = Place {
            file: "a|b.yaml".into(),
            pointer: "/paths/~1x`y".into(),
        };
        let report = Report {
            bump: Bump::Major,
            breaking: 1,
            changes: vec![Change {
                rule: Rule::OperationRemoved,
                severity: Rule::OperationRemoved.severity(),
                operation: Some(hostile.into()),
                old: Some(place),
                new: None,
                message: hostile.into(),
                also_in: Vec::new(),
                shared: None,
            }],
        };
        let out = markdown(&report, hostile);
        assert!(!out.contains("<img"), "{out}");
        assert!(!out.contains("@org"), "no mention: {out}");
        assert!(!out.contains("[link]("), "no link: {out}");
        for line in out.lines().filter(|l| l.starts_with("| breaking")) {
            let unescaped_bars = line
                .match_indices('|')
                .filter(|(i, _)| *i == 0 || &line[i - 1..*i] != "\\")
                .count();
            assert_eq!(unescaped_bars, 5, "four cells: {line}");
        }
    }
}
