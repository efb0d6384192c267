//! User-supplied names and labels. Each newtype validates on parse and the error names the
//! field and the allowed range, ready to be shown to the caller.

use crate::Error;

fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n == 0 || value.trim().is_empty() {
        return Err(Error::invalid(field, format!("{field} must be 1 to {max_chars} characters and not blank")));
    }
    if n > max_chars {
        return Err(Error::invalid(field, format!("{field} must be at most {max_chars} characters (got {n})")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, format!("{field} must not contain control characters")));
    }
    Ok(())
}

/// A backup label: 1–200 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupLabel(String);

impl BackupLabel {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(value: &str) -> Result<Self, Error> {
        check_text("label", value, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A project name: 1–64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(value: &str) -> Result<Self, Error> {
        check_text("name", value, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An API key's display name: 1–100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(value: &str) -> Result<Self, Error> {
        check_text("name", value, Self::MAX_CHARS)?;
        Ok(Self(value.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    #[test]
    fn label_accepts_up_to_200_characters_including_unicode() {
        assert!(BackupLabel::parse(&"é".repeat(200)).is_ok());
        assert!(BackupLabel::parse("before-the-big-migration").is_ok());
    }

    #[test]
    fn label_refuses_long_blank_and_control_characters() {
        let long = BackupLabel::parse(&"a".repeat(201)).unwrap_err();
        assert!(long.to_string().contains("at most 200"), "{long}");
        assert_eq!(field_of(long), "label");
        assert_eq!(field_of(BackupLabel::parse("bad\nlabel").unwrap_err()), "label");
        assert_eq!(field_of(BackupLabel::parse("tab\there").unwrap_err()), "label");
        assert_eq!(field_of(BackupLabel::parse("   ").unwrap_err()), "label");
    }

    #[test]
    fn project_name_limits() {
        assert!(ProjectName::parse("shop").is_ok());
        assert_eq!(field_of(ProjectName::parse(&"x".repeat(65)).unwrap_err()), "name");
    }
}
