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
            "{:<12} {:<32} {}{}",
            change.severity.as_str(),
            change.rule.id(),
            change
                .operation
                .as_deref()
                .map(|op| format!("{op}: "))
                .unwrap_or_default(),
            change.message
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
            format!("`{}`", escape(&op))
        };
        let _ = write!(
            out,
            "\n#### {heading}\n\n| severity | rule | change | where |\n| --- | --- | --- | --- |\n"
        );
        for change in changes {
            let at = match (&change.old, &change.new) {
                (Some(old), Some(new)) => format!("{old} → {new}"),
                (Some(old), None) => format!("{old}"),
                (None, Some(new)) => format!("{new}"),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                change.severity.as_str(),
                change.rule.id(),
                escape(&change.message),
                escape(&at)
            );
        }
    }
    out
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
