//! The Lambda packages: drgen embeds the Python sources at build time and writes each
//! function's zip itself, byte for byte the same on every run (sorted entries, a fixed
//! timestamp, fixed permissions), so Terraform's `source_code_hash` only changes with the code.

use std::io::Write;

use flate2::write::DeflateEncoder;
use flate2::Compression;

/// One embedded source file: its path inside the zip and its bytes.
type Source = (&'static str, &'static [u8]);

macro_rules! source {
    ($name:literal) => {
        (concat!("drgen_lambda/", $name), include_bytes!(concat!("../lambda/drgen_lambda/", $name)))
    };
}

const INIT: Source = source!("__init__.py");
const ADAPTERS: Source = source!("adapters.py");
const CONFIG: Source = source!("config.py");
const DECISION: Source = source!("decision.py");
const LOGS: Source = source!("logs.py");
const MONITOR: Source = source!("monitor.py");
const OBSERVER: Source = source!("observer.py");
const PROBE: Source = source!("probe.py");

/// A function's package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    Observer,
    Monitor,
}

impl Package {
    pub const ALL: [Package; 2] = [Package::Observer, Package::Monitor];

    /// The zip's path in the output directory.
    pub fn path(self) -> &'static str {
        match self {
            Package::Observer => "lambda/observer.zip",
            Package::Monitor => "lambda/monitor.zip",
        }
    }

    /// The Lambda handler.
    pub fn handler(self) -> &'static str {
        match self {
            Package::Observer => "drgen_lambda.observer.handler",
            Package::Monitor => "drgen_lambda.monitor.handler",
        }
    }

    fn sources(self) -> Vec<Source> {
        let mut files = match self {
            Package::Observer => vec![INIT, ADAPTERS, CONFIG, LOGS, OBSERVER, PROBE],
            Package::Monitor => vec![INIT, ADAPTERS, CONFIG, DECISION, LOGS, MONITOR, PROBE],
        };
        files.sort_by_key(|(name, _)| *name);
        files
    }

    /// The zip's bytes.
    pub fn zip(self) -> Vec<u8> {
        zip(&self.sources())
    }
}

/// 1980-01-01 00:00:00 in MS-DOS date and time format: the earliest a zip can say.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Regular file, rw-r--r--.
const UNIX_MODE: u32 = 0o100_644;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn small(n: usize) -> u32 {
    u32::try_from(n).expect("embedded sources are far below 4 GiB")
}

/// A deflate-compressed zip of the given files, in the given order.
fn zip(files: &[Source]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).expect("writing to memory");
        let compressed = encoder.finish().expect("writing to memory");
        let crc = crc32fast::hash(data);
        let offset = small(out.len());
        let name_len = u16::try_from(name.len()).expect("short names");
        // Local file header.
        u32le(&mut out, 0x0403_4b50);
        for v in [20, 0, 8, DOS_TIME, DOS_DATE] {
            u16le(&mut out, v);
        }
        for v in [crc, small(compressed.len()), small(data.len())] {
            u32le(&mut out, v);
        }
        u16le(&mut out, name_len);
        u16le(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&compressed);
        // Central directory entry.
        u32le(&mut central, 0x0201_4b50);
        // Made by Unix (3), zip version 2.0.
        for v in [0x0314, 20, 0, 8, DOS_TIME, DOS_DATE] {
            u16le(&mut central, v);
        }
        for v in [crc, small(compressed.len()), small(data.len())] {
            u32le(&mut central, v);
        }
        for v in [name_len, 0, 0, 0, 0] {
            u16le(&mut central, v);
        }
        u32le(&mut central, UNIX_MODE << 16);
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = small(out.len());
    let count = u16::try_from(files.len()).expect("few files");
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    for v in [0, 0, count, count] {
        u16le(&mut out, v);
    }
    u32le(&mut out, small(central.len()));
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_deterministic_and_small() {
        for p in Package::ALL {
            let a = p.zip();
            assert_eq!(a, p.zip());
            assert!(a.len() <= 20 * 1024, "{} is {} bytes", p.path(), a.len());
        }
    }

    #[test]
    fn the_handler_module_is_packaged() {
        for p in Package::ALL {
            let module = p.handler().rsplit_once('.').unwrap().0.replace('.', "/") + ".py";
            assert!(p.sources().iter().any(|(name, _)| *name == module), "{module}");
        }
    }
}
