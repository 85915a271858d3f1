//! Finding the inputs: files, directory trees (including the S3 key layouts CloudTrail delivers
//! to), and standard input.

use std::path::{Path, PathBuf};

/// Where an input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    Path(PathBuf),
    Stdin,
    /// The walk could not even list or stat it; parsing reports the reason as a diagnostic.
    Unreadable(String),
}

/// One input file, named as the analyst will see it in evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The path as given on the command line plus the path inside it (`-` for stdin).
    pub display: String,
    pub source: InputSource,
}

/// Expands command-line paths into the sorted list of files to read.
///
/// Directories are walked recursively. CloudTrail's S3 layouts (`AWSLogs/<account>/CloudTrail/…`
/// and organisation trails `AWSLogs/o-<org>/<account>/CloudTrail/…`) need nothing special beyond
/// that, except that digest files (`CloudTrail-Digest/`) are integrity signatures, not events,
/// and are skipped. The list is sorted and de-duplicated so that file ids, and so all output,
/// do not depend on the order the operating system returns directory entries in.
pub fn discover(paths: &[String]) -> Vec<InputFile> {
    let mut files = Vec::new();
    for given in paths {
        if given == "-" {
            files.push(InputFile {
                display: "-".into(),
                source: InputSource::Stdin,
            });
            continue;
        }
        let path = Path::new(given);
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut files),
            Ok(_) => files.push(InputFile {
                display: given.clone(),
                source: InputSource::Path(path.into()),
            }),
            Err(err) => files.push(InputFile {
                display: given.clone(),
                source: InputSource::Unreadable(format!("cannot open: {err}")),
            }),
        }
    }
    files.sort_by(|a, b| a.display.cmp(&b.display));
    files.dedup_by(|a, b| a.display == b.display);
    files
}

fn walk(root: &Path, files: &mut Vec<InputFile>) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    let walker = walker.filter_entry(|e| !is_skipped_dir(e));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                if !is_skipped_file(e.path()) {
                    files.push(InputFile {
                        display: e.path().to_string_lossy().into_owned(),
                        source: InputSource::Path(e.path().to_path_buf()),
                    });
                }
            }
            Ok(_) => {}
            Err(err) => {
                let display = err
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|| root.to_string_lossy().into_owned());
                files.push(InputFile {
                    display,
                    source: InputSource::Unreadable(err.to_string()),
                });
            }
        }
    }
}

fn is_skipped_dir(entry: &walkdir::DirEntry) -> bool {
    entry.file_type().is_dir() && entry.file_name() == "CloudTrail-Digest"
}

/// Files that are never logs: CloudTrail digest signatures that sit outside a digest folder,
/// and editor or OS droppings. Anything else is sniffed by content.
fn is_skipped_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.contains("_CloudTrail-Digest_") || name == ".DS_Store" || name.ends_with('~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_s3_layouts_sorted_and_skips_digests() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir
            .path()
            .join("AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/01/02");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("b.json.gz"), b"x").unwrap();
        std::fs::write(base.join("a.json.gz"), b"x").unwrap();
        let digest = dir
            .path()
            .join("AWSLogs/o-abc123/111122223333/CloudTrail-Digest/us-east-1");
        std::fs::create_dir_all(&digest).unwrap();
        std::fs::write(digest.join("d.json.gz"), b"x").unwrap();
        let files = discover(&[dir.path().to_string_lossy().into_owned()]);
        let names: Vec<_> = files
            .iter()
            .map(|f| f.display.rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.json.gz", "b.json.gz"]);
    }

    #[test]
    fn a_missing_path_becomes_an_unreadable_input_not_an_error() {
        let files = discover(&["/nonexistent/credtrail".into()]);
        assert_eq!(files.len(), 1);
        assert!(matches!(files[0].source, InputSource::Unreadable(_)));
    }
}
