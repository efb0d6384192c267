//! List paging: a bounded `limit` and an opaque cursor (the store's last key, base64url JSON).

use crate::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const DEFAULT: u32 = 25;
    pub const MAX: u32 = 100;

    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        let Some(raw) = raw else {
            return Ok(Limit(Self::DEFAULT));
        };
        match raw.parse::<u32>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Limit(n)),
            _ => {
                Err(Error::invalid("limit", format!("limit must be an integer from 1 to {} (got `{raw}`)", Self::MAX)))
            }
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A position in a list: the string key attributes of the last item returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor(pub BTreeMap<String, String>);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self.0).unwrap_or_default())
    }

    pub fn decode(raw: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("cursor", "cursor is not one this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        Ok(Cursor(map))
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_ranges() {
        assert_eq!(Limit::parse(None).unwrap().get(), 25);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "ten"] {
            let e = Limit::parse(Some(bad)).unwrap_err();
            assert!(e.to_string().contains("1 to 100"), "{e}");
        }
    }

    #[test]
    fn cursor_round_trips_and_garbage_is_a_400() {
        let mut m = BTreeMap::new();
        m.insert("pk".to_string(), "PROJECT#x".to_string());
        let c = Cursor(m);
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(matches!(Cursor::decode("%%%"), Err(Error::InvalidField { .. })));
    }
}
