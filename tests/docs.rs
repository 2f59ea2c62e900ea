#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The documentation a newcomer reads: a short README that links every page, links that
//! resolve (files and headings), and the pages that list the code's own tables (routes,
//! error codes, provider fields) listing all of them. The configuration variables are checked
//! in `deployment_files.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The README's budget: what it is, the diagram, the two commands, deploy, links.
const README_MAX_LINES: usize = 300;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every Markdown page of the documentation: README, CONTRIBUTING, docs/, the client's README.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("client/README.md"),
    ];
    let mut docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The text outside fenced code blocks.
fn prose(markdown: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
/// hyphens, a repeated heading numbered.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in prose(markdown).lines() {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut anchor = slug.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{slug}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// The targets of a page's inline links, `[text](target)`, outside code.
fn links(markdown: &str) -> Vec<String> {
    let text = prose(markdown);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_owned());
        }
    }
    out
}

#[test]
fn the_readme_is_short() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; the rest belongs in a docs/ page"
    );
}

/// The status line says which version this is: a release that moves the version moves it too.
#[test]
fn the_readme_status_names_the_version() {
    let manifest = read(&root().join("Cargo.toml"));
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has a version");
    let readme = read(&root().join("README.md"));
    let status = readme
        .lines()
        .find(|l| l.contains("**Status:"))
        .expect("README.md has a status line near the top");
    assert!(
        status.contains(&format!("({version})")),
        "README.md's status line does not name version {version}: {status}"
    );
}

/// Apps import the client module as the npm package exports it; `@edge-attest/client` is
/// only the private name of `client/package.json` (the type test's self-reference).
#[test]
fn the_docs_import_the_client_as_the_package_exports_it() {
    for page in pages() {
        assert!(
            !read(&page).contains("@edge-attest/client"),
            "{} names @edge-attest/client; the package exports edge-attest/client",
            page.display()
        );
    }
}

#[test]
fn the_readme_links_every_page() {
    let readme = read(&root().join("README.md"));
    let linked: BTreeSet<String> = links(&readme).into_iter().collect();
    for page in pages().iter().skip(1) {
        let rel = page
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(linked.contains(&rel), "README.md does not link {rel}");
    }
}

#[test]
fn every_relative_link_resolves_to_a_file_and_a_heading() {
    for page in pages() {
        let dir = page.parent().unwrap();
        for target in links(&read(&page)) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            assert!(
                path.exists(),
                "{}: link to {target}: no such file",
                page.display()
            );
            if let Some(anchor) = anchor {
                assert!(
                    anchors(&read(&path)).contains(anchor),
                    "{}: link to {target}: no such heading in {}",
                    page.display(),
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_gateway_page_documents_every_rule_field() {
    let page = read(&root().join("docs/gateway.md"));
    for field in edge_attest::config::protect::FIELDS {
        assert!(
            page.contains(&format!("| `{field}` |")),
            "docs/gateway.md has no row for `{field}`"
        );
    }
}

#[test]
fn the_providers_page_documents_every_field() {
    let page = read(&root().join("docs/providers.md"));
    for field in edge_attest::config::providers::FIELDS {
        assert!(
            page.contains(&format!("| `{field}` |")),
            "docs/providers.md has no row for `{field}`"
        );
    }
}

/// The string literal that opens right after `marker` (ending in `"`) on each line of a
/// source file's code: the route table's paths, the error codes.
fn quoted_after(src: &str, marker: &str) -> Vec<String> {
    src.split("#[cfg(test)]")
        .next()
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(marker))
        .filter_map(|(_, rest)| rest.split('"').next().map(str::to_owned))
        .collect()
}

#[test]
fn the_http_page_documents_every_route_and_error_code() {
    let page = read(&root().join("docs/http-api.md"));
    let routes = quoted_after(&read(&root().join("src/app/routes.rs")), ") => \"");
    assert!(
        routes.len() >= 4,
        "the route table was not read: {routes:?}"
    );
    for path in routes {
        assert!(
            page.contains(&format!("{path}`")),
            "docs/http-api.md does not document {path}"
        );
    }
    let mut codes = quoted_after(&read(&root().join("src/error.rs")), "=> \"");
    codes.retain(|c| c.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    assert!(
        codes.len() >= 12,
        "the error codes were not read: {codes:?}"
    );
    // The panic answer is written by the entry module, not by ApiError.
    codes.push("internal_error".to_owned());
    for code in codes {
        assert!(
            page.contains(&format!("| `{code}` |")),
            "docs/http-api.md has no row for the error `{code}`"
        );
    }
}

#[test]
fn nothing_cites_files_outside_the_repository() {
    let outside = ["shared", "/research/"].concat();
    let mut files = pages();
    for dir in ["src", "dev", "tests", "bench", "client", "scripts", "fuzz"] {
        collect(&root().join(dir), &mut files);
    }
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        assert!(
            !text.contains(&outside) && !text.contains(&["shared", "/spec/"].concat()),
            "{} cites a file outside the repository",
            file.display()
        );
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "node_modules" || name == "target" {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
