//! AWS regions drgen knows, with the availability zones used by default in each.

use std::fmt;

/// Commercial AWS regions and the letters of the three (or, where a new account sees only
/// two, two) availability zones used by default.
const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "abc"),
    ("ap-east-1", "abc"),
    ("ap-northeast-1", "acd"),
    ("ap-northeast-2", "abc"),
    ("ap-northeast-3", "abc"),
    ("ap-south-1", "abc"),
    ("ap-south-2", "abc"),
    ("ap-southeast-1", "abc"),
    ("ap-southeast-2", "abc"),
    ("ap-southeast-3", "abc"),
    ("ap-southeast-4", "abc"),
    ("ap-southeast-5", "abc"),
    ("ap-southeast-7", "abc"),
    ("ca-central-1", "abc"),
    ("ca-west-1", "abc"),
    ("eu-central-1", "abc"),
    ("eu-central-2", "abc"),
    ("eu-north-1", "abc"),
    ("eu-south-1", "abc"),
    ("eu-south-2", "abc"),
    ("eu-west-1", "abc"),
    ("eu-west-2", "abc"),
    ("eu-west-3", "abc"),
    ("il-central-1", "abc"),
    ("me-central-1", "abc"),
    ("me-south-1", "abc"),
    ("mx-central-1", "abc"),
    ("sa-east-1", "abc"),
    ("us-east-1", "abc"),
    ("us-east-2", "abc"),
    ("us-west-1", "bc"),
    ("us-west-2", "abc"),
];

/// A known AWS region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AwsRegion {
    name: &'static str,
    zone_letters: &'static str,
}

impl AwsRegion {
    pub fn parse(name: &str) -> Result<Self, String> {
        REGIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(name, zone_letters)| Self { name, zone_letters })
            .ok_or_else(|| format!("`{name}` is not a known AWS region (for example us-east-1, eu-west-1)"))
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// The availability zones used when the config names none.
    pub fn default_zones(self) -> Vec<String> {
        self.zone_letters.chars().map(|c| format!("{}{c}", self.name)).collect()
    }
}

impl fmt::Display for AwsRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
