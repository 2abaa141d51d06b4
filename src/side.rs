//! The two regions' roles, a plain value every layer may use.

use std::fmt;

/// The two regions' roles. Everything that exists in both regions is rendered once per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Primary,
    Dr,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Primary, Side::Dr];

    /// The label used for per-region resources and the provider alias.
    pub fn label(self) -> &'static str {
        match self {
            Side::Primary => "primary",
            Side::Dr => "dr",
        }
    }

    #[must_use]
    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Dr,
            Side::Dr => Side::Primary,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
