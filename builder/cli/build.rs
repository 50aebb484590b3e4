//! Generates one golden-sources test per line of `specs/index.txt` for the
//! suite (`tests/suite/golden.rs` includes them), so a drifted spec fails
//! by name and the list can never fall out of step with the index.

use std::fmt::Write as _;

fn main() {
    let index = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/index.txt");
    println!("cargo:rerun-if-changed={index}");
    let text = match std::fs::read_to_string(index) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {index}, the golden test list: {e}");
            std::process::exit(1);
        }
    };
    let mut tests = String::new();
    let mut cases = 0usize;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(_path)) = (words.next(), words.next()) else {
            continue;
        };
        let flags: Vec<&str> = words.collect();
        let target = flags
            .windows(2)
            .find(|w| w[0] == "--target")
            .map_or("wasm", |w| w[1]);
        let ident: String = format!("{name}_{target}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        cases += 1;
        let _ = writeln!(
            tests,
            "#[test]\nfn sources_of_{ident}() {{ check_golden_sources({name:?}, {target:?}); }}\n"
        );
    }
    let _ = writeln!(
        tests,
        "/// How many golden cases the index had when this list was written.\nconst GOLDEN_CASES: usize = {cases};"
    );
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("golden_cases.rs"), tests) {
        eprintln!("error: cannot write the golden test list: {e}");
        std::process::exit(1);
    }
}
