//! The deterministic zip writer for the Lambda packages, and which sources go into each.
//! `build.rs` includes this file too: the packages are built once, at build time, from the
//! Python sources in `lambda/`, and embedded in the binary.

use flate2::{Compress, Compression, FlushCompress, Status};

/// The sources of the observer package, relative to `lambda/`.
pub const OBSERVER: &[&str] = &[
    "drgen_lambda/__init__.py",
    "drgen_lambda/adapters.py",
    "drgen_lambda/config.py",
    "drgen_lambda/fsm.py",
    "drgen_lambda/guard.py",
    "drgen_lambda/logs.py",
    "drgen_lambda/observer.py",
    "drgen_lambda/probe.py",
];

/// The sources of the primary-region guard's package, relative to `lambda/`: its own package
/// rather than the observer's, which answers Route 53 within two seconds and stays as small as
/// its cold start wants.
pub const GUARD: &[&str] = &[
    "drgen_lambda/__init__.py",
    "drgen_lambda/adapters.py",
    "drgen_lambda/config.py",
    "drgen_lambda/fsm.py",
    "drgen_lambda/guard.py",
    "drgen_lambda/guard_run.py",
    "drgen_lambda/logs.py",
    "drgen_lambda/probe.py",
];

/// The sources of the monitor package, relative to `lambda/`.
pub const MONITOR: &[&str] = &[
    "drgen_lambda/__init__.py",
    "drgen_lambda/adapters.py",
    "drgen_lambda/config.py",
    "drgen_lambda/fsm.py",
    "drgen_lambda/guard.py",
    "drgen_lambda/logs.py",
    "drgen_lambda/monitor.py",
    "drgen_lambda/pg.py",
    "drgen_lambda/probe.py",
];

/// The sources of the failover-workflow package, relative to `lambda/`.
pub const FAILOVER: &[&str] = &[
    "drgen_lambda/__init__.py",
    "drgen_lambda/adapters.py",
    "drgen_lambda/arc.py",
    "drgen_lambda/config.py",
    "drgen_lambda/fsm.py",
    "drgen_lambda/guard.py",
    "drgen_lambda/logs.py",
    "drgen_lambda/workflow.py",
];

/// The sources of the primary-region lease keeper's package (the ARC authority), relative to
/// `lambda/`: nothing of the decision's code, which it does not run.
pub const LEASE: &[&str] = &[
    "drgen_lambda/__init__.py",
    "drgen_lambda/adapters.py",
    "drgen_lambda/arc.py",
    "drgen_lambda/config.py",
    "drgen_lambda/lease.py",
    "drgen_lambda/logs.py",
];

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

/// A deflate-compressed zip of the given files, sorted by name, with a fixed timestamp and
/// fixed permissions.
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut files = files.to_vec();
    files.sort_by_key(|(name, _)| *name);
    let mut out = Vec::new();
    let mut central = Vec::new();
    // One compressor for every file: setting one up zeroes its large tables.
    let mut deflate = Compress::new(Compression::best(), false);
    for (name, data) in &files {
        deflate.reset();
        let mut compressed = Vec::with_capacity(data.len() + 64);
        let status =
            deflate.compress_vec(data, &mut compressed, FlushCompress::Finish).expect("deflating in memory");
        assert_eq!(status, Status::StreamEnd, "the buffer holds the whole stream");
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

/// The entries of a zip by name, with their CRC-32, read from its central directory; None when
/// the bytes are not a zip this reader understands.
pub fn entries(bytes: &[u8]) -> Option<std::collections::BTreeMap<String, u32>> {
    let u16_at = |i: usize| Some(u16::from_le_bytes(bytes.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?));
    // The end-of-central-directory record is the last 22 bytes of a zip without a comment.
    let end = bytes.len().checked_sub(22)?;
    if u32_at(end)? != 0x0605_4b50 {
        return None;
    }
    let count = usize::from(u16_at(end + 10)?);
    let mut at = usize::try_from(u32_at(end + 16)?).ok()?;
    let mut out = std::collections::BTreeMap::new();
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return None;
        }
        let crc = u32_at(at + 16)?;
        let name_len = usize::from(u16_at(at + 28)?);
        let extra = usize::from(u16_at(at + 30)?);
        let comment = usize::from(u16_at(at + 32)?);
        let name = String::from_utf8(bytes.get(at + 46..at + 46 + name_len)?.to_vec()).ok()?;
        out.insert(name, crc);
        at += 46 + name_len + extra + comment;
    }
    Some(out)
}
