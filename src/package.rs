//! The Lambda packages: built at build time by `build.rs` from the Python sources in
//! `lambda/` (see `lambda_zip`), embedded in the binary, and written into each rendering.
//! They are byte for byte the same on every build of the same sources, so Terraform's
//! `source_code_hash` changes only with the code.

/// A function's package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    Observer,
    Guard,
    Monitor,
    Failover,
    Lease,
}

impl Package {
    pub const ALL: [Package; 5] =
        [Package::Observer, Package::Guard, Package::Monitor, Package::Failover, Package::Lease];

    /// The zip's path in the output directory.
    pub fn path(self) -> &'static str {
        match self {
            Package::Observer => "lambda/observer.zip",
            Package::Guard => "lambda/guard.zip",
            Package::Monitor => "lambda/monitor.zip",
            Package::Failover => "lambda/failover.zip",
            Package::Lease => "lambda/lease.zip",
        }
    }

    /// The Lambda handler.
    pub fn handler(self) -> &'static str {
        match self {
            Package::Observer => "drgen_lambda.observer.handler",
            Package::Guard => "drgen_lambda.guard_run.handler",
            Package::Monitor => "drgen_lambda.monitor.handler",
            Package::Failover => "drgen_lambda.workflow.handler",
            Package::Lease => "drgen_lambda.lease.handler",
        }
    }

    /// The zip's bytes.
    pub fn zip(self) -> &'static [u8] {
        match self {
            Package::Observer => include_bytes!(concat!(env!("OUT_DIR"), "/observer.zip")),
            Package::Guard => include_bytes!(concat!(env!("OUT_DIR"), "/guard.zip")),
            Package::Monitor => include_bytes!(concat!(env!("OUT_DIR"), "/monitor.zip")),
            Package::Failover => include_bytes!(concat!(env!("OUT_DIR"), "/failover.zip")),
            Package::Lease => include_bytes!(concat!(env!("OUT_DIR"), "/lease.zip")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda_zip;

    fn sources(p: Package) -> &'static [&'static str] {
        match p {
            Package::Observer => lambda_zip::OBSERVER,
            Package::Guard => lambda_zip::GUARD,
            Package::Monitor => lambda_zip::MONITOR,
            Package::Failover => lambda_zip::FAILOVER,
            Package::Lease => lambda_zip::LEASE,
        }
    }

    #[test]
    fn packages_are_small_and_rebuild_to_the_same_bytes() {
        // Only drgen's modules and the standard library: a package that grows past this has
        // picked up something it should not carry (the functions' cold starts pay for every byte).
        const LIMIT: usize = 40 * 1024;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lambda");
        for p in Package::ALL {
            assert!(p.zip().len() <= LIMIT, "{} is {} bytes", p.path(), p.zip().len());
            let files: Vec<(&str, Vec<u8>)> =
                sources(p).iter().map(|name| (*name, std::fs::read(root.join(name)).unwrap())).collect();
            let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
            assert_eq!(lambda_zip::zip(&borrowed), p.zip(), "{} is stale or not deterministic", p.path());
        }
    }

    #[test]
    fn the_handler_module_is_packaged() {
        for p in Package::ALL {
            let module = p.handler().rsplit_once('.').unwrap().0.replace('.', "/") + ".py";
            assert!(sources(p).contains(&module.as_str()), "{module}");
        }
    }
}
