//! The layers, checked by reading the sources: which module may name which, that no thread-local
//! carries state between layers, and that handlers never open a transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first: a module may name its own layer and those below it, never one above.
const LAYERS: [&[&str]; 6] = [
    &["domain"],
    &["db"],
    &["repo"],
    &["cache"],
    &["services"],
    &["routes"],
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/services/reports/mod.rs` → `services`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every module a file names as `crate::<module>`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|names| names.contains(&module))
}

#[test]
fn lower_layers_never_name_higher_ones_and_nothing_is_thread_local() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 40, "the sources were found");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source");
        let from = module_of(&src, file);
        assert!(
            !text.contains("thread_local!"),
            "{}: state must be passed as values, not kept in a thread-local",
            file.display()
        );
        for to in named_modules(&text) {
            if to == from {
                continue;
            }
            edges.entry(from.clone()).or_default().insert(to.clone());
            if let (Some(a), Some(b)) = (layer(&from), layer(&to))
                && b > a
            {
                wrong.push(format!("{} ({from}) names {to}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    // The layers really do depend on each other as drawn (the check above is not vacuous).
    for (from, to) in [
        ("repo", "db"),
        ("cache", "repo"),
        ("services", "cache"),
        ("routes", "services"),
    ] {
        assert!(
            edges.get(from).is_some_and(|e| e.contains(to)),
            "{from} should name {to}"
        );
    }
}

#[test]
fn handlers_never_open_a_transaction_and_report_modules_stay_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src.join("routes"), &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source");
        for forbidden in ["write_tx", "transact(", "diesel::"] {
            assert!(
                !text.contains(forbidden),
                "{} uses `{forbidden}`: writes and SQL belong to services and repo",
                file.display()
            );
        }
    }
    let mut reports = Vec::new();
    sources(&src.join("services/reports"), &mut reports);
    assert!(!reports.is_empty());
    for file in reports {
        let lines = std::fs::read_to_string(&file)
            .expect("readable")
            .lines()
            .count();
        assert!(lines < 600, "{} has {lines} lines", file.display());
    }
}
