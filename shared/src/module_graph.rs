//! No file of this crate may, through its `use`s and paths, end up depending on itself: a file
//! read alone must not need the files that need it. `cargo test -p capydb-shared --lib
//! module_graph` checks it from the sources (every `crate::`, `super::` and `self::` path,
//! brace groups included; a module using its own parent's items is not counted, that is what
//! nesting means).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`services::jobs`) → its file, for every `.rs` file under `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod" || (parts.len() == 1 && l == "lib")) {
                parts.pop();
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The source without its `#[cfg(test)]` tail and without comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Every path that starts at `crate`, `super` or `self`, with brace groups spelled out.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let start = ["crate::", "super::", "self::"].iter().find(|p| rest.starts_with(**p));
        if let (true, Some(_)) = (boundary, start) {
            let (found, end) = path_at(&bytes, i);
            out.extend(found);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The path(s) starting at `i`, and where they end.
fn path_at(chars: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut segments = Vec::new();
    loop {
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i > start {
            segments.push(chars[start..i].iter().collect::<String>());
        }
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            if chars.get(i) == Some(&'{') {
                let (inner, end) = group(chars, i + 1);
                let paths = inner.into_iter().map(|tail| segments.iter().cloned().chain(tail).collect()).collect();
                return (paths, end);
            }
            continue;
        }
        return (vec![segments], i);
    }
}

/// The comma-separated paths inside a brace group opened just before `i`, and where it closes.
fn group(chars: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut out = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '}' => return (out, i + 1),
            c if c.is_alphanumeric() || c == '_' => {
                let (found, end) = path_at(chars, i);
                out.extend(found);
                i = end;
            }
            _ => i += 1,
        }
    }
    (out, i)
}

/// The module a path names (the longest prefix that is one), from inside `module`.
fn resolve(module: &str, path: &[String], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut base: Vec<&str> = if module.is_empty() { vec![] } else { module.split("::").collect() };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => base.clear(),
        Some("self") => {}
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    if rest.first().is_some_and(|s| s == "crate" || s == "self") {
        rest = &rest[1..];
    }
    (0..=rest.len()).rev().find_map(|n| {
        let candidate: Vec<&str> = base.iter().copied().chain(rest[..n].iter().map(String::as_str)).collect();
        let candidate = candidate.join("::");
        known.contains_key(&candidate).then_some(candidate)
    })
}

/// Each module's dependencies on modules other than itself and its ancestors.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(src);
    known
        .iter()
        .map(|(module, file)| {
            let text = code(&std::fs::read_to_string(file).expect("readable source"));
            let deps = paths(&text)
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                .filter(|d| d != module && !d.is_empty() && !module.starts_with(&format!("{d}::")))
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

/// Groups of modules that depend on each other (strongly connected, more than one).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w.as_str()) {
                    let low = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|x| *x == v).unwrap();
                let group: Vec<String> = self.stack.split_off(at).into_iter().map(str::to_string).collect();
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut t = Tarjan { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: vec![], found: vec![] };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn no_file_of_the_crate_depends_on_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    assert!(graph.len() > 50, "the sources were read: {} modules", graph.len());
    let found = cycles(&graph);
    assert!(found.is_empty(), "modules that import each other: {found:?}");
}

#[test]
fn the_check_sees_paths_groups_and_cycles() {
    let found = paths("use super::{jobs::{Outcome, X}, Context};\nlet x = crate::domain::retry::classify(m);");
    let names: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(names, ["super::jobs::Outcome", "super::jobs::X", "super::Context", "crate::domain::retry::classify"]);
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
        ("d".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    let mut found = cycles(&graph);
    found[0].sort();
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
}

/// The `.rs` files of `shared/src` and `functions/src` (not the one-line binaries), as paths
/// from the repository root.
fn mapped_files(root: &Path) -> BTreeSet<String> {
    ["shared/src", "functions/src"]
        .iter()
        .flat_map(|dir| modules(&root.join(dir)).into_values())
        .map(|file| file.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .filter(|file| !file.starts_with("functions/src/bin/"))
        .collect()
}

#[test]
fn every_module_is_on_the_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let map = architecture.split("## Module map").nth(1).expect("ARCHITECTURE.md has a \"Module map\" section");
    let map = map.split("\n## ").next().unwrap();
    let listed: BTreeSet<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("* `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let files = mapped_files(root);
    assert!(files.len() > 100, "the sources were read: {}", files.len());
    let missing: Vec<_> = files.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&files).collect();
    assert!(missing.is_empty(), "modules missing from ARCHITECTURE.md's module map: {missing:?}");
    assert!(gone.is_empty(), "the module map names files that do not exist: {gone:?}");
}
