//! README.md and docs/*.md as a CommonMark/GFM renderer (GitHub's, a code forge's, an
//! editor's preview) shows them, parsed with pulldown-cmark: every line that starts with
//! `|` must have become a row of a table (a paragraph between two rows breaks the table,
//! and the rows after it render as loose text), every relative link must name a file or
//! folder of the repository, and every image must be a file that exists.

use pulldown_cmark::{Event, Options, Parser, Tag};
use std::ops::Range;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// README.md, every docs/*.md and the fixtures' README.
fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("data-fixtures/data/README.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    in_docs.sort();
    docs.extend(in_docs);
    docs
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// What is wrong with one Markdown document, one line each ("file:line: reason").
fn problems(path: &Path, text: &str) -> Vec<String> {
    let name = path.strip_prefix(repo()).unwrap_or(path).display().to_string();
    let mut found = Vec::new();
    // Where the parser saw tables, and code (whose `|` lines are not rows).
    let mut tables: Vec<Range<usize>> = Vec::new();
    let mut code: Vec<Range<usize>> = Vec::new();
    let mut targets: Vec<(usize, String, bool)> = Vec::new();
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_FOOTNOTES);
    for (event, range) in parser.into_offset_iter() {
        match event {
            Event::Start(Tag::Table(_)) => tables.push(range),
            Event::Start(Tag::CodeBlock(_)) | Event::Html(_) => code.push(range),
            Event::Start(Tag::Link { dest_url, .. }) => targets.push((range.start, dest_url.to_string(), false)),
            Event::Start(Tag::Image { dest_url, .. }) => targets.push((range.start, dest_url.to_string(), true)),
            _ => {}
        }
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if !line.trim_start().starts_with('|') {
            continue;
        }
        let inside = |ranges: &[Range<usize>]| ranges.iter().any(|r| r.contains(&start));
        if !inside(&tables) && !inside(&code) {
            found.push(format!("{name}:{}: a table row outside any table (a line between rows breaks the table): {}", line_of(text, start), line.trim_end()));
        }
    }
    let dir = path.parent().unwrap();
    for (at, url, image) in targets {
        let what = if image { "image" } else { "link" };
        let remote = url.contains("://") || url.starts_with("mailto:");
        if remote {
            if image {
                found.push(format!("{name}:{}: image {url} is not in the repository (pictures must render offline)", line_of(text, at)));
            }
            continue;
        }
        let file = url.split(['#', '?']).next().unwrap_or("");
        if file.is_empty() {
            continue; // an anchor in the same document
        }
        let target = dir.join(percent_decode(file));
        let exists = if image { target.is_file() } else { target.exists() };
        if !exists {
            found.push(format!("{name}:{}: {what} {url} names no file ({} does not exist)", line_of(text, at), target.display()));
        }
    }
    found
}

/// `%20` and friends in a link's path, as a renderer resolves them.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn readme_and_docs_render_with_every_table_link_and_image_intact() {
    let docs = documents();
    assert!(docs.len() >= 3, "{docs:?}");
    let mut all = Vec::new();
    for path in &docs {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        all.extend(problems(path, &text));
    }
    assert!(all.is_empty(), "{} problems:\n{}", all.len(), all.join("\n"));
}

#[test]
fn readme_shows_pictures_near_the_top() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let first_section = text.find("\n## ").expect("a section");
    let images: Vec<String> = Parser::new_ext(&text, Options::ENABLE_TABLES)
        .into_offset_iter()
        .filter_map(|(e, r)| match e {
            Event::Start(Tag::Image { dest_url, .. }) if r.start < text.find("\n## Using it").unwrap_or(first_section) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect();
    assert!(images.len() >= 5, "README shows {} images before 'Using it': {images:?}", images.len());
}

/// The checker itself finds what it is meant to find, on documents made to fail.
#[test]
fn the_checker_catches_a_broken_table_a_dead_link_and_a_missing_image() {
    let path = repo().join("README.md");
    let broken_table = "| a | b |\n|---|---|\n| 1 | 2 |\n\nA paragraph in the middle.\n| 3 | 4 |\n";
    let p = problems(&path, broken_table);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("README.md:6: a table row outside any table") && p[0].contains("| 3 | 4 |"), "{p:?}");
    let p = problems(&path, "See [the guide](docs/NO-SUCH-FILE.md#top) and ![map](docs/images/none.png).\n");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("link docs/NO-SUCH-FILE.md#top names no file"), "{p:?}");
    assert!(p[1].contains("image docs/images/none.png names no file"), "{p:?}");
    // What is fine: rows in code, anchors, remote links, existing files.
    let fine = "```\n| not a row |\n```\n\n[top](#quick-start) [web](https://example.org) [arch](docs/ARCHITECTURE.md) [dir](cli/)\n\n| a |\n|---|\n| 1 |\n";
    assert_eq!(problems(&path, fine), Vec::<String>::new());
}
