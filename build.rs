//! Builds the Lambda packages from the Python sources in `lambda/`, once, at build time.

use std::path::Path;

#[allow(dead_code)]
#[path = "src/lambda_zip.rs"]
mod lambda_zip;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=lambda/drgen_lambda");
    println!("cargo:rerun-if-changed=src/lambda_zip.rs");
    for (name, sources) in [
        ("observer", lambda_zip::OBSERVER),
        ("guard", lambda_zip::GUARD),
        ("monitor", lambda_zip::MONITOR),
        ("failover", lambda_zip::FAILOVER),
        ("lease", lambda_zip::LEASE),
    ] {
        let files: Vec<(&str, Vec<u8>)> = sources
            .iter()
            .map(|path| {
                println!("cargo:rerun-if-changed=lambda/{path}");
                (*path, std::fs::read(Path::new("lambda").join(path)).expect("a Lambda source"))
            })
            .collect();
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        std::fs::write(Path::new(&out).join(format!("{name}.zip")), lambda_zip::zip(&borrowed))
            .expect("OUT_DIR is writable");
    }
}
