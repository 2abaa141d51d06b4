//! Rendering: one module per AWS component. Each module's functions take the model and, for
//! pieces that exist in both regions, a `Side`; they are called once per side.

mod aws;
mod backend;
mod bootstrap;
mod data;
mod kms;
mod network;
mod peering;
mod root;

use std::collections::{BTreeMap, BTreeSet};

use hcl::expr::Expression;
use hcl::{Block, Body};

use crate::canonical;
use crate::model::{Side, Topology};
use crate::output::FileSet;
use crate::syntax::labelled;

/// The Terraform configuration being assembled: blocks per file, outputs, and the VPC
/// interface endpoints that components request for their Lambdas.
#[derive(Default)]
pub struct Doc {
    files: BTreeMap<String, Vec<hcl::Structure>>,
    outputs: Vec<Block>,
    endpoints: BTreeMap<Side, BTreeSet<&'static str>>,
}

impl Doc {
    /// Appends blocks to a file.
    pub fn add(&mut self, file: &str, blocks: impl IntoIterator<Item = Block>) {
        self.files.entry(file.to_string()).or_default().extend(blocks.into_iter().map(hcl::Structure::from));
    }

    /// Appends attributes and blocks to a file (for `.tfvars`).
    pub fn add_body(&mut self, file: &str, body: Body) {
        self.files.entry(file.to_string()).or_default().extend(body);
    }

    /// Declares an output; every output is described.
    pub fn output(&mut self, name: &str, description: &str, value: Expression) {
        self.outputs.push(labelled(
            "output",
            &[name],
            Body::builder()
                .add_attribute(("description", description))
                .add_attribute(("value", value))
                .build(),
        ));
    }

    /// Requests a VPC interface endpoint for an AWS service (`logs`, `rds`, ...) in a region.
    pub fn endpoint(&mut self, side: Side, service: &'static str) {
        self.endpoints.entry(side).or_default().insert(service);
    }

    pub fn endpoints(&self, side: Side) -> impl Iterator<Item = &'static str> + '_ {
        self.endpoints.get(&side).into_iter().flatten().copied()
    }

    fn finish(mut self, dir: &str, files: &mut FileSet) {
        if !self.outputs.is_empty() {
            let outputs = std::mem::take(&mut self.outputs);
            self.add("outputs.tf", outputs);
        }
        for (name, structures) in self.files {
            let body = Body::from(structures);
            files.add(format!("{dir}{name}"), hcl_text(&body));
        }
    }
}

/// The canonical text of a body: hcl-rs output passed through the `terraform fmt` rules.
pub fn hcl_text(body: &Body) -> String {
    use hcl::format::Format;
    let mut formatter = hcl::format::Formatter::builder().compact_arrays(true).build(Vec::new());
    let raw = body.format_string(&mut formatter).expect("hcl-rs formats every body it can hold");
    canonical::format(&raw)
}

/// Renders the whole output directory.
pub fn render(m: &Topology) -> FileSet {
    let mut files = FileSet::default();

    let mut main = Doc::default();
    root::render(m, &mut main);
    backend::render(m, &mut main);
    data::render(m, &mut main);
    for side in Side::BOTH {
        kms::render(m, side, &mut main);
    }
    peering::render(m, &mut main);
    // The network goes last: it renders the endpoints the other components requested.
    for side in Side::BOTH {
        network::render(m, side, &mut main);
    }
    main.finish("", &mut files);

    let mut boot = Doc::default();
    bootstrap::render(m, &mut boot);
    boot.finish("bootstrap/", &mut files);
    files
}
