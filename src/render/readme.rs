//! The README.md of the output directory, rendered with askama from `templates/`, naming the
//! real resources of this rendering.

use askama::Template;

use crate::model::{Side, Topology};
use crate::naming::Function;

#[derive(Template)]
#[template(path = "output-readme.md", escape = "none")]
struct OutputReadme {
    name: String,
    suffix: String,
    primary_region: String,
    dr_region: String,
    primary_db: String,
    replica_db: String,
    dns_name: String,
    private_zone: bool,
    secret: String,
    state_bucket: String,
    dr_state_bucket: String,
    state_key: String,
    lock_table: String,
    primary_kms_alias: String,
    dr_kms_alias: String,
    monitor: String,
    workflow: String,
    retired: bool,
    state_machine: String,
    emails: Vec<String>,
    reroute: u32,
    reroute_formula: String,
    promotion_start: u32,
    destroyable: bool,
    arc: bool,
}

pub fn render(m: &Topology) -> String {
    let s = m.suffix.as_str();
    let n = &m.names;
    OutputReadme {
        name: m.name.clone(),
        suffix: s.to_string(),
        primary_region: m.primary.region.to_string(),
        dr_region: m.dr.region.to_string(),
        primary_db: n.db_identifier(Side::Primary).with_suffix(s),
        replica_db: n.db_identifier(Side::Dr).with_suffix(s),
        dns_name: m.dns.fqdn(),
        private_zone: m.dns.private_zone,
        secret: n.secret().with_suffix(s),
        state_bucket: n.state_bucket().with_suffix(s),
        dr_state_bucket: n.state_replica_bucket().with_suffix(s),
        state_key: n.state_key(s),
        lock_table: n.lock_table().with_suffix(s),
        primary_kms_alias: n.state_kms_alias(Side::Primary).with_suffix(s),
        dr_kms_alias: n.state_kms_alias(Side::Dr).with_suffix(s),
        monitor: n.function(Function::Monitor, Side::Dr).with_suffix(s),
        workflow: n.function(Function::Failover, Side::Dr).with_suffix(s),
        retired: m.database.primary_retired,
        state_machine: n.state_machine().with_suffix(s),
        emails: m.monitoring.alarm_emails.clone(),
        reroute: m.rto.reroute_seconds(),
        reroute_formula: m.rto.reroute_formula(),
        promotion_start: m.rto.promotion_start_seconds(),
        destroyable: m.destroyable,
        arc: m.failover.arc.is_some(),
    }
    .render()
    .expect("the template renders every model")
}

#[derive(Template)]
#[template(path = "module-readme.md", escape = "none")]
struct ModuleReadme {
    name: String,
    suffix: String,
    primary_region: String,
    dr_region: String,
    module_name: String,
    module_dir: String,
}

/// The README of the module layout: how a root calls the module.
pub fn render_module(m: &Topology) -> String {
    ModuleReadme {
        name: m.name.clone(),
        suffix: m.suffix.to_string(),
        primary_region: m.primary.region.to_string(),
        dr_region: m.dr.region.to_string(),
        module_name: m.name.replace('-', "_"),
        module_dir: "drgen".to_string(),
    }
    .render()
    .expect("the template renders every model")
}
