//! Compiles the built-in email templates into the crate: every file under the repository's
//! `templates/` folder becomes an entry of `BUILTIN_TEMPLATES`, so a Lambda renders emails
//! without reading any file, and a template added to the folder needs no code change.
//! Compiles the email lists under `data/` into finite-state sets (the `fst` crate), so a lookup
//! walks the set compiled into the binary, with nothing built or allocated at run time.

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
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("builtin_templates.rs"), out).expect("OUT_DIR is writable");

    let mut lists = String::new();
    for (name, file) in [
        ("FREE_EMAIL_DOMAINS", "free_email_domains.txt"),
        ("DISPOSABLE_EMAIL_DOMAINS", "disposable_email_domains.txt"),
        ("ROLE_EMAIL_LOCAL_PARTS", "role_email_local_parts.txt"),
    ] {
        lists.push_str(&email_list(
            name,
            &Path::new(&manifest_dir).join("data").join(file),
            &out_dir,
        ));
    }
    std::fs::write(out_dir.join("email_lists.rs"), lists).expect("OUT_DIR is writable");
}

/// A `ListSet` of one list file: its entries (`#` comments and blank lines skipped) compiled
/// into a finite-state set, written to `OUT_DIR`. The set needs the entries in order: an
/// unsorted file (a hand edit) stops the build here.
fn email_list(name: &str, file: &Path, out_dir: &Path) -> String {
    println!("cargo:rerun-if-changed={}", file.display());
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let mut set = fst::SetBuilder::memory();
    let mut previous: Option<&str> = None;
    for entry in text.split('\n') {
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        assert!(
            entry.trim() == entry && previous.is_none_or(|p| p < entry),
            "{}: {entry:?} is out of order, repeated or padded (scripts/refresh-email-lists)",
            file.display()
        );
        set.insert(entry).expect("entries in order");
        previous = Some(entry);
    }
    let bytes = set.into_inner().expect("an in-memory set");
    let set_file = out_dir.join(format!("{}.fst", name.to_lowercase()));
    std::fs::write(&set_file, bytes).expect("OUT_DIR is writable");
    let path = file.canonicalize().expect("list file exists");
    let path = path.to_str().expect("list paths are UTF-8");
    let set_path = set_file.to_str().expect("OUT_DIR is UTF-8");
    format!(
        "static {name}: ListSet = ListSet {{ set: include_bytes!({set_path:?}), #[cfg(test)] text: include_str!({path:?}) }};\n"
    )
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
