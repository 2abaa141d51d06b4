//! AWS regions drgen knows, with how many availability zones each offers.

use std::fmt;

/// Commercial AWS regions and the number of availability zones a new account can use.
const REGIONS: &[(&str, u8)] = &[
    ("af-south-1", 3),
    ("ap-east-1", 3),
    ("ap-northeast-1", 3),
    ("ap-northeast-2", 4),
    ("ap-northeast-3", 3),
    ("ap-south-1", 3),
    ("ap-south-2", 3),
    ("ap-southeast-1", 3),
    ("ap-southeast-2", 3),
    ("ap-southeast-3", 3),
    ("ap-southeast-4", 3),
    ("ap-southeast-5", 3),
    ("ap-southeast-7", 3),
    ("ca-central-1", 3),
    ("ca-west-1", 3),
    ("eu-central-1", 3),
    ("eu-central-2", 3),
    ("eu-north-1", 3),
    ("eu-south-1", 3),
    ("eu-south-2", 3),
    ("eu-west-1", 3),
    ("eu-west-2", 3),
    ("eu-west-3", 3),
    ("il-central-1", 3),
    ("me-central-1", 3),
    ("me-south-1", 3),
    ("mx-central-1", 3),
    ("sa-east-1", 3),
    ("us-east-1", 6),
    ("us-east-2", 3),
    ("us-west-1", 2),
    ("us-west-2", 4),
];

/// A known AWS region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AwsRegion {
    name: &'static str,
    zones: u8,
}

impl AwsRegion {
    pub fn parse(name: &str) -> Result<Self, String> {
        REGIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(name, zones)| Self { name, zones })
            .ok_or_else(|| format!("`{name}` is not a known AWS region (for example us-east-1, eu-west-1)"))
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// Availability zones a new account can use in this region.
    pub fn zones(self) -> u8 {
        self.zones
    }
}

impl fmt::Display for AwsRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
