//! Arbitrary bytes as a config file, in both formats, through the model checks and, when
//! they pass, the renderer. Any panic is a bug.
#![no_main]

use drgen::config::{Config, Format};
use drgen::model::Topology;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [Format::Hcl, Format::Json] {
        if let Ok(config) = Config::parse(text, format) {
            if let Ok(model) = Topology::from_config(&config, Some("fuzz")) {
                let files = drgen::render::render(&model);
                for (path, bytes) in &files.files {
                    if path.ends_with(".tf") {
                        hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
                    }
                }
            }
        }
    }
});
