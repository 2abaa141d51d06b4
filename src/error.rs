//! Error types of the library.

use std::fmt;

/// One problem with the input: the field path and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every problem found in one input, each printed on its own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    /// `Ok` when there is no problem.
    pub fn check(problems: Vec<FieldError>) -> Result<(), Self> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Self(problems))
        }
    }
}

impl From<FieldError> for Problems {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Failures while writing or comparing the output directory.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The I/O error is part of the message (not a separate cause), so it prints once.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: exists and is not a directory")]
    NotADirectory { path: String },
    #[error(
        "{path}: was not written by drgen; refusing to overwrite it (move it away or choose another --out)"
    )]
    Foreign { path: String },
}
