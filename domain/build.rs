//! Compiles the built-in email templates into the crate: every file under the repository's
//! `templates/` folder becomes an entry of `BUILTIN_TEMPLATES`, so a Lambda renders emails
//! without reading any file, and a template added to the folder needs no code change.
//! Indexes the email lists under `data/`: where each entry starts, so a lookup is a binary
//! search over the file as written, with nothing sorted or allocated at run time.

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
        ));
    }
    std::fs::write(out_dir.join("email_lists.rs"), lists).expect("OUT_DIR is writable");
}

/// A `SortedList` of one list file: its text and the offset of each entry (`#` comments and
/// blank lines skipped). A binary search needs the entries in order: an unsorted file (a hand
/// edit) stops the build here.
fn email_list(name: &str, file: &Path) -> String {
    println!("cargo:rerun-if-changed={}", file.display());
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let mut starts = Vec::new();
    let mut previous: Option<&str> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let entry = line.trim_end_matches('\n');
        if !entry.is_empty() && !entry.starts_with('#') {
            assert!(
                entry.trim() == entry && previous.is_none_or(|p| p < entry),
                "{}: {entry:?} is out of order, repeated or padded (scripts/refresh-email-lists)",
                file.display()
            );
            starts.push(u32::try_from(offset).expect("a list under 4 GB"));
            previous = Some(entry);
        }
        offset += line.len();
    }
    let path = file.canonicalize().expect("list file exists");
    let path = path.to_str().expect("list paths are UTF-8");
    format!(
        "static {name}: SortedList = SortedList {{ text: include_str!({path:?}), starts: &{starts:?} }};\n"
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
