//! Compiles the built-in email templates into the crate: every file under the repository's
//! `templates/` folder becomes an entry of `BUILTIN_TEMPLATES`, so a Lambda renders emails
//! without reading any file, and a template added to the folder needs no code change.

use std::path::{Path, PathBuf};

fn main() {
    // Read at run time, not compiled in: a build script binary may be reused for another
    // checkout of the same crate (worktrees sharing a target directory).
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("../templates");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let mut out = String::from("/// The built-in templates: (path under `templates/`, source).\n");
    out.push_str("pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[\n");
    for file in &files {
        let name = file
            .strip_prefix(&dir)
            .expect("walked under the folder")
            .components()
            .map(|c| c.as_os_str().to_str().expect("template paths are UTF-8"))
            .collect::<Vec<_>>()
            .join("/");
        let absolute = file.canonicalize().expect("template file exists");
        let absolute = absolute.to_str().expect("template paths are UTF-8");
        out.push_str(&format!("    ({name:?}, include_str!({absolute:?})),\n"));
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("builtin_templates.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}

/// Every file under `dir`, dot-files and dot-folders left out.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable folder entry").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}
