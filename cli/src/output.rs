//! Rendering: `-o json` prints the API's JSON; `-o table` prints what a person wants to read.

use comfy_table::presets::NOTHING;
use comfy_table::Table;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub fn json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub fn field(v: &Value, name: &str) -> String {
    match v.get(name) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
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
pub type Column<'a> = (&'a str, &'a dyn Fn(&Value) -> String);

/// A table of `rows`, one column per (header, extractor).
pub fn table(rows: &[Value], columns: &[Column<'_>]) {
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

/// The table of a list answer's `collection`, and a word on stderr when more pages exist.
pub fn listing(v: &Value, collection: &str, columns: &[Column<'_>]) {
    table(v[collection].as_array().map(Vec::as_slice).unwrap_or_default(), columns);
    if v["next_cursor"].is_string() {
        eprintln!("(more {} exist: --all lists every one)", collection.replace('_', " "));
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
