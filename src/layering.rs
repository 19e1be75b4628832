//! The layers of docs/ARCHITECTURE.md, checked: a test reads every source
//! file under `src/` and fails when a module names a layer it must not use.

use std::path::{Path, PathBuf};

/// Which top-level modules the files under a folder must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("domain", &["db", "store", "services", "web", "api"]),
    ("db", &["services", "web", "api", "error"]),
    ("store", &["services", "web", "api", "error"]),
    ("services", &["web", "api"]),
    ("api", &["web", "store"]),
    ("web", &["api", "store"]),
    ("app_state", &["web", "api"]),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::`, in `use` lines and
/// in paths alike (`crate::web::AppState`, `crate::{db, web::session}`).
/// Comments are left out: a doc link is not a dependency.
fn named_modules(text: &str) -> Vec<String> {
    let code: String = text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            named.extend(group.split(',').map(|item| first_ident(item.trim())));
        } else {
            named.push(first_ident(rest));
        }
    }
    named.retain(|m| !m.is_empty());
    named
}

fn first_ident(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

fn top_folder(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Each file under `src` that names a layer its folder must not use.
fn offenders(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut offenders = Vec::new();
    for file in &files {
        let layer = top_folder(src, file);
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(name, _)| *name == layer) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for module in named_modules(&text) {
            if forbidden.contains(&module.as_str()) {
                offenders.push(format!("{} names crate::{module}", file.strip_prefix(src).unwrap().display()));
            }
        }
    }
    offenders.sort();
    offenders.dedup();
    offenders
}

#[test]
fn no_module_names_a_layer_it_must_not_use() {
    let offenders = offenders(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(offenders.is_empty(), "imports across the layers of docs/ARCHITECTURE.md:\n{}", offenders.join("\n"));
}

#[test]
fn a_planted_forbidden_import_is_caught() {
    let tree = tempfile::tempdir().unwrap();
    let plant = |path: &str, text: &str| {
        let file = tree.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    plant("web/users.rs", "use crate::services::users;\nuse crate::store::users::UserRow;\n");
    plant("db/writer.rs", "use crate::error::AppError;\n");
    plant("services/pools.rs", "// crate::web is only named in a comment\nuse crate::store::pools;\n");

    assert_eq!(offenders(tree.path()), vec!["db/writer.rs names crate::error", "web/users.rs names crate::store"]);
}

#[test]
fn a_grouped_import_names_each_of_its_modules() {
    assert_eq!(named_modules("use crate::{db, web::session};\nlet x = crate::api::x(); // crate::store"), vec!["db", "web", "api"]);
}
