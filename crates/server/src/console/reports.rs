//! The HTML reports kept in the state dir's `reports/` folder (`iotmock advisor run --report
//! .iotmock/reports/NAME`, `iotmock load ... --report .iotmock/reports/NAME`), listed and served
//! read-only by the console. Only files under that folder are served; a path that leaves it
//! (`..`, a link pointing elsewhere) is refused.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Folders deep a report may sit under `reports/`.
const DEPTH: usize = 3;

/// Every `.html` file under `dir`, newest first.
pub(super) fn list(dir: &Path) -> Value {
    let mut found = Vec::new();
    walk(dir, dir, 0, &mut found);
    found.sort_by_key(|(_, modified): &(String, i64)| std::cmp::Reverse(*modified));
    let reports: Vec<Value> = found
        .into_iter()
        .map(|(name, modified)| json!({"name": name, "modified": modified}))
        .collect();
    json!({"dir": dir.display().to_string(), "reports": reports})
}

fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<(String, i64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() && depth < DEPTH {
            walk(root, &path, depth + 1, found);
        } else if path.extension().is_some_and(|e| e == "html") {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            if let Ok(rel) = path.strip_prefix(root) {
                found.push((rel.to_string_lossy().into_owned(), modified));
            }
        }
    }
}

/// The file `rel` under `dir`, when it is one.
pub(super) fn serve(dir: &Path, rel: &str) -> Response<Full<Bytes>> {
    let Some(path) = inside(dir, rel) else {
        return answer(
            StatusCode::NOT_FOUND,
            "text/plain",
            b"no such report".to_vec(),
        );
    };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("css") => "text/css",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    };
    match std::fs::read(&path) {
        Ok(body) => answer(StatusCode::OK, kind, body),
        Err(e) => answer(
            StatusCode::NOT_FOUND,
            "text/plain",
            e.to_string().into_bytes(),
        ),
    }
}

/// `rel` resolved under `dir`, refused when it leaves it.
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let rel = percent_decode(rel)?;
    if rel.split('/').any(|part| part == ".." || part.is_empty()) {
        return None;
    }
    let root = dir.canonicalize().ok()?;
    let path = root.join(&rel).canonicalize().ok()?;
    path.starts_with(&root).then_some(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes: Vec<u8> = form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

fn answer(status: StatusCode, kind: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_listed_and_only_files_inside_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run1")).unwrap();
        std::fs::write(dir.path().join("run1/index.html"), "<p>ok</p>").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let listed = list(dir.path());
        assert_eq!(listed["reports"][0]["name"], "run1/index.html");
        assert_eq!(listed["reports"].as_array().unwrap().len(), 1);
        assert_eq!(
            serve(dir.path(), "run1/index.html").status(),
            StatusCode::OK
        );
        assert_eq!(
            serve(dir.path(), "run1/../../etc/passwd").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve(dir.path(), "run1%2F..%2F..%2Fx").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve(dir.path(), "missing.html").status(),
            StatusCode::NOT_FOUND
        );
    }
}
