//! Loads the email templates at start-up: the built-in set, with the operator's folder (if the
//! configuration names one) laid over it file by file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::templates::{TemplateError, TemplateFile, Templates};

/// The built-in templates with the configured folder laid over them, checked.
pub fn load(config: &Config) -> Result<Templates, TemplateError> {
    let mut files: BTreeMap<String, TemplateFile> = TemplateFile::builtin()
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect();
    if let Some(dir) = config.templates_dir() {
        for f in read_folder(&dir)? {
            files.insert(f.path.clone(), f);
        }
    }
    Templates::build(files.into_values(), config)
}

/// Every file under `dir` (dot-files and dot-folders left out), by its `/`-separated path.
fn read_folder(dir: &Path) -> Result<Vec<TemplateFile>, TemplateError> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let unreadable = |e: std::io::Error| TemplateError::Invalid {
            origin: folder.display().to_string(),
            message: format!("cannot read the templates folder: {e}"),
        };
        for entry in std::fs::read_dir(&folder).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let origin = path.display().to_string();
            let relative = path
                .strip_prefix(dir)
                .expect("found under the folder")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let source = std::fs::read_to_string(&path).map_err(|e| TemplateError::Invalid {
                origin: origin.clone(),
                message: format!("cannot read: {e}"),
            })?;
            out.push(TemplateFile {
                path: relative,
                origin,
                source,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("leadrelay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("teams/enterprise")).unwrap();
        dir
    }

    fn config_with(dir: &Path) -> Config {
        let mut c = crate::test_support::config();
        c.email.templates = Some(dir.to_path_buf());
        c
    }

    #[test]
    fn a_team_override_in_the_folder_is_laid_over_the_built_in_set() {
        let dir = folder("templates-ok");
        std::fs::write(
            dir.join("teams/enterprise/assignment.txt"),
            "Subject: Enterprise lead: {{ lead.name }}\nHi {{ owner.name }}\n",
        )
        .unwrap();
        std::fs::write(dir.join("teams/enterprise/assignment.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join(".notes.swp"), "not a template").unwrap();
        let t = load(&config_with(&dir)).unwrap();
        let sel = crate::templates::Selector {
            source: "json",
            team: Some("enterprise"),
            language: None,
        };
        assert_eq!(t.choose("assignment", &sel), "teams/enterprise/assignment");
        assert_eq!(t.choose("reminder", &sel), "reminder");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_broken_file_stops_the_start_naming_the_file_on_disk() {
        let dir = folder("templates-broken");
        let file = dir.join("teams/enterprise/assignment.txt");
        std::fs::write(&file, "Subject: {{ lead.name }\n").unwrap();
        std::fs::write(dir.join("teams/enterprise/assignment.html"), "").unwrap();
        let e = load(&config_with(&dir)).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: syntax error", file.display())),
            "{e}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_missing_folder_is_a_start_up_error() {
        let dir = std::env::temp_dir().join("leadrelay-no-such-templates-folder");
        let e = load(&config_with(&dir)).unwrap_err().to_string();
        assert!(e.contains("cannot read the templates folder"), "{e}");
    }
}
