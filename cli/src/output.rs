//! Rendering: `-o json` prints the API's typed answer; `-o table` prints what a person wants
//! to read.

use crate::client::Paged;
use comfy_table::presets::NOTHING;
use comfy_table::Table;
use serde::Serialize;
use std::fmt::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn json(value: &impl Serialize) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// An optional value, or `-`.
pub fn opt(v: &Option<impl Display>) -> String {
    v.as_ref().map_or_else(|| "-".into(), ToString::to_string)
}

/// An enum as the API spells it.
pub fn name(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "-".into(),
    }
}

pub fn size(bytes: Option<u64>) -> String {
    let Some(b) = bytes else { return "-".into() };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A column: its header and how to render a row's cell.
pub type Column<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

/// A table of `rows`, one column per (header, extractor).
pub fn table<T>(rows: &[T], columns: &[Column<'_, T>]) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut t = Table::new();
    t.load_preset(NOTHING);
    t.set_header(columns.iter().map(|(h, _)| h.to_string()));
    for row in rows {
        t.add_row(columns.iter().map(|(_, f)| f(row)));
    }
    println!("{t}");
}

/// The table of a list answer, and a word on stderr when more pages exist.
pub fn listing<P: Paged>(mut page: P, noun: &str, columns: &[Column<'_, P::Item>]) {
    table(page.items(), columns);
    if page.next_cursor().is_some() {
        eprintln!("(more {noun} exist: --all lists every one)");
    }
}

/// `key: value` lines for one record.
pub fn record(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        println!("{k:>width$}  {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human_readable() {
        assert_eq!(size(None), "-");
        assert_eq!(size(Some(512)), "512 B");
        assert_eq!(size(Some(1536)), "1.5 KiB");
        assert_eq!(size(Some(5 * 1024 * 1024 * 1024)), "5.0 GiB");
    }
}
