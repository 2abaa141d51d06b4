//! Rendering: one module per AWS component. Each module's functions take the model and, for
//! pieces that exist in both regions, a `Side`; they are called once per side.

mod alarms;
mod alerts;
mod arc;
mod aws;
mod backend;
mod backup;
mod bootstrap;
mod calls;
mod data;
mod database;
mod dns;
mod failover;
mod functions;
mod guard;
mod kms;
mod lease;
mod module;
pub use guard::RESERVED_CONCURRENCY as GUARD_RESERVED_CONCURRENCY;
pub use module::TAGGABLE;
mod monitor;
mod network;
mod observers;
mod peering;
mod readme;
mod root;
mod runbook;
mod secrets;
mod stepfunctions;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use hcl::expr::Expression;
use hcl::{Block, Body};

use crate::canonical;
use crate::model::{Side, Topology};
use crate::naming::Function;
use crate::output::FileSet;
use crate::package::Package;
use crate::syntax::labelled;

/// The Terraform configuration being assembled: blocks per file, outputs, and the VPC
/// interface endpoints that components request for their Lambdas.
#[derive(Default)]
pub struct Doc {
    files: BTreeMap<String, Vec<hcl::Structure>>,
    outputs: Vec<Block>,
    endpoints: BTreeMap<Side, BTreeSet<&'static str>>,
    gateway_endpoints: BTreeMap<Side, BTreeSet<&'static str>>,
    db_clients: BTreeMap<Side, Vec<DbClient>>,
    /// The drgen functions rendered in each region, for their error alarms.
    functions: BTreeMap<Side, Vec<Function>>,
    /// Comments placed above blocks, by file and block header.
    notes: BTreeMap<String, Vec<(String, String)>>,
}

/// A security group whose members may connect to the database in the same region.
#[derive(Clone)]
pub struct DbClient {
    /// Used in the rule's label.
    pub label: String,
    pub description: String,
    pub security_group_id: Expression,
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

    /// Places a comment above the block `<ident> "<labels>..." {` of a file, for reviewers:
    /// why a setting is what it is. hcl-rs bodies hold no comments, so they are added to the
    /// formatted text.
    pub fn note(&mut self, file: &str, ident: &str, labels: &[&str], text: &str) {
        let mut header = ident.to_string();
        for l in labels {
            let _ = write!(header, " \"{l}\"");
        }
        header.push_str(" {");
        self.notes.entry(file.to_string()).or_default().push((header, text.to_string()));
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

    /// Lets a security group reach the side's database on its port.
    pub fn db_client(&mut self, side: Side, client: DbClient) {
        self.db_clients.entry(side).or_default().push(client);
    }

    pub fn db_clients(&self, side: Side) -> Vec<DbClient> {
        self.db_clients.get(&side).cloned().unwrap_or_default()
    }

    /// Records a function rendered in a region.
    pub fn function(&mut self, side: Side, function: Function) {
        self.functions.entry(side).or_default().push(function);
    }

    pub fn functions(&self, side: Side) -> Vec<Function> {
        self.functions.get(&side).cloned().unwrap_or_default()
    }

    /// Requests a VPC gateway endpoint (`dynamodb`, `s3`) on the side's route tables.
    pub fn gateway_endpoint(&mut self, side: Side, service: &'static str) {
        self.gateway_endpoints.entry(side).or_default().insert(service);
    }

    pub fn gateway_endpoints(&self, side: Side) -> impl Iterator<Item = &'static str> + '_ {
        self.gateway_endpoints.get(&side).into_iter().flatten().copied()
    }

    pub fn endpoints(&self, side: Side) -> impl Iterator<Item = &'static str> + '_ {
        self.endpoints.get(&side).into_iter().flatten().copied()
    }

    /// Every `resource "<kind>" "<label>"` block rendered so far, as (label, body).
    pub fn resources<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Body)> + 'a {
        self.files.values().flatten().filter_map(move |s| match s {
            hcl::Structure::Block(b) if b.identifier() == "resource" => match b.labels() {
                [k, label] if k.as_str() == kind => Some((label.as_str(), b.body())),
                _ => None,
            },
            hcl::Structure::Attribute(_) | hcl::Structure::Block(_) => None,
        })
    }

    /// Rewrites every file's body (the module layout's tags).
    fn map_bodies(&mut self, f: impl Fn(Body) -> Body) {
        for structures in self.files.values_mut() {
            let body = f(Body::from(std::mem::take(structures)));
            *structures = body.into_iter().collect();
        }
    }

    fn finish(mut self, dir: &str, files: &mut FileSet) {
        if !self.outputs.is_empty() {
            let outputs = std::mem::take(&mut self.outputs);
            self.add("outputs.tf", outputs);
        }
        for (name, structures) in self.files {
            let body = Body::from(structures);
            let mut text = hcl_text(&body);
            for (header, note) in self.notes.remove(&name).unwrap_or_default() {
                text = annotate(&text, &header, &note);
            }
            files.add(format!("{dir}{name}"), text);
        }
        assert!(self.notes.is_empty(), "notes for files that were not rendered: {:?}", self.notes.keys());
    }
}

/// Inserts `# note` lines above the line that is exactly `header`.
fn annotate(text: &str, header: &str, note: &str) -> String {
    let mut out = String::with_capacity(text.len() + note.len() + 16);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if !found && line.trim_end() == header {
            for n in crate::starter::wrap(note, 96) {
                out.push_str("# ");
                out.push_str(&n);
                out.push('\n');
            }
            found = true;
        }
        out.push_str(line);
    }
    assert!(found, "no block {header} to annotate");
    out
}

/// The canonical text of a body: hcl-rs output passed through the `terraform fmt` rules.
pub fn hcl_text(body: &Body) -> String {
    use hcl::format::Format;
    let mut formatter = hcl::format::Formatter::builder().compact_arrays(true).build(Vec::new());
    let raw = body.format_string(&mut formatter).expect("hcl-rs formats every body it can hold");
    canonical::format(&raw)
}

/// How the output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// A root module with its backend and providers.
    #[default]
    Root,
    /// A child module that the user's root calls with the two provider aliases.
    Module,
}

/// Renders the whole output directory as a root.
pub fn render(m: &Topology) -> FileSet {
    render_layout(m, Layout::Root)
}

/// Renders the whole output directory in the given layout. The bootstrap root is a root in both.
pub fn render_layout(m: &Topology, layout: Layout) -> FileSet {
    let mut files = FileSet::default();

    let mut main = Doc::default();
    match layout {
        Layout::Root => {
            root::render(m, &mut main);
            backend::render(m, &mut main);
        }
        Layout::Module => {
            main.add("variables.tf", [root::suffix_variable(m)]);
            module::render(m, &mut main);
        }
    }
    data::render(m, &mut main);
    for side in Side::BOTH {
        kms::render(m, side, &mut main);
    }
    peering::render(m, &mut main);
    secrets::render(m, &mut main);
    backup::render(m, &mut main);
    observers::token(m, &mut main);
    for side in Side::BOTH {
        alerts::render(m, side, &mut main);
        observers::render(m, side, &mut main);
    }
    // Once the primary is retired there is no replica left to promote.
    if !m.database.primary_retired {
        monitor::render(m, &mut main);
        // What the primary region says about the primary, for the monitor's decision.
        guard::render(m, &mut main);
        // With the ARC authority, the primary's own fence when it loses the authority.
        lease::render(m, &mut main);
    }
    failover::render(m, &mut main);
    stepfunctions::render(m, &mut main);
    arc::render(m, &mut main);
    dns::render(m, &mut main);
    for side in Side::BOTH {
        alarms::render(m, side, &mut main);
    }
    // Last: the database's security groups admit the clients, and the network creates the
    // endpoints, that the other components requested.
    for side in Side::BOTH {
        database::render(m, side, &mut main);
        network::render(m, side, &mut main);
    }
    database::replication(m, &mut main);
    if layout == Layout::Module {
        main.map_bodies(module::tag_everything);
    }
    let runbook = runbook::render(m, &main, layout);
    main.finish("", &mut files);
    files.add("RUNBOOK.md", runbook);
    files.add(
        "README.md",
        match layout {
            Layout::Root => readme::render(m),
            Layout::Module => readme::render_module(m),
        },
    );
    for package in Package::ALL {
        // The lease keeper's package exists only with the function that runs it.
        if package == Package::Lease && (m.failover.arc.is_none() || m.database.primary_retired) {
            continue;
        }
        files.add(package.path(), package.zip());
    }

    let mut boot = Doc::default();
    bootstrap::render(m, &mut boot);
    boot.finish("bootstrap/", &mut files);
    files
}
