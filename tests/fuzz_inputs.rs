//! Replays the fuzz target's seeds (the example configs) and every input that ever crashed it
//! (`fuzz/regressions/`): each is refused with problems that name a field, or renders files
//! that parse.

use std::path::Path;

use drgen::config::{Config, Format};
use drgen::model::Topology;

fn replay(bytes: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(bytes) else { return 0 };
    let mut rendered = 0;
    for format in [Format::Hcl, Format::Json] {
        let outcome = Config::parse(text, format).and_then(|c| Topology::from_config(&c, Some("fuzz")));
        match outcome {
            Err(problems) => assert!(problems.0.iter().all(|p| !p.field.is_empty() && !p.message.is_empty())),
            Ok(model) => {
                for (path, bytes) in &drgen::render::render(&model).files {
                    if Path::new(path).extension().is_some_and(|e| e == "tf") {
                        hcl::parse(std::str::from_utf8(bytes).unwrap()).unwrap();
                    }
                }
                rendered += 1;
            }
        }
    }
    rendered
}

#[test]
fn fuzz_inputs_are_refused_or_rendered() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = 0;
    let mut rendered = 0;
    for dir in ["examples", "fuzz/regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            // Configs only: examples/ also holds a calling root and CI recipes in folders.
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitignore" && n != ".keep") {
                rendered += replay(&std::fs::read(&path).unwrap());
                inputs += 1;
            }
        }
    }
    let examples = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert!(inputs >= examples && examples >= 4, "the seeds are missing ({inputs} inputs)");
    assert!(rendered >= examples, "every example is a valid config; only {rendered} rendered");
}
