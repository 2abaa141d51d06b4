//! The gRPC services: the provider (schema and validation only) and go-plugin's controller.

use std::sync::Arc;

use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::plugin::grpc_controller_server::GrpcController;
use crate::plugin::Empty;
use crate::tfplugin6::provider_server::Provider;
use crate::tfplugin6::{self as p, diagnostic::Severity, Diagnostic};

pub struct SchemaProvider {
    schema: p::get_provider_schema::Response,
}

impl SchemaProvider {
    pub fn new(schema: p::get_provider_schema::Response) -> Self {
        Self { schema }
    }
}

/// The error every RPC outside validation answers with.
fn unsupported(rpc: &str) -> Vec<Diagnostic> {
    vec![Diagnostic {
        severity: Severity::Error.into(),
        summary: format!("{rpc} is not supported by the schema-only provider"),
        detail: "This provider serves the hashicorp/aws schema for offline `terraform validate` only; plan and apply need the real provider.".into(),
    }]
}

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Provider for SchemaProvider {
    async fn get_provider_schema(
        &self,
        _: Request<p::get_provider_schema::Request>,
    ) -> Rpc<p::get_provider_schema::Response> {
        Ok(Response::new(self.schema.clone()))
    }

    async fn validate_provider_config(
        &self,
        _: Request<p::validate_provider_config::Request>,
    ) -> Rpc<p::validate_provider_config::Response> {
        Ok(Response::new(p::validate_provider_config::Response { diagnostics: Vec::new() }))
    }

    async fn validate_resource_config(
        &self,
        _: Request<p::validate_resource_config::Request>,
    ) -> Rpc<p::validate_resource_config::Response> {
        Ok(Response::new(p::validate_resource_config::Response { diagnostics: Vec::new() }))
    }

    async fn validate_data_resource_config(
        &self,
        _: Request<p::validate_data_resource_config::Request>,
    ) -> Rpc<p::validate_data_resource_config::Response> {
        Ok(Response::new(p::validate_data_resource_config::Response { diagnostics: Vec::new() }))
    }

    async fn upgrade_resource_state(
        &self,
        _: Request<p::upgrade_resource_state::Request>,
    ) -> Rpc<p::upgrade_resource_state::Response> {
        Ok(Response::new(p::upgrade_resource_state::Response {
            diagnostics: unsupported("UpgradeResourceState"),
        }))
    }

    async fn configure_provider(
        &self,
        _: Request<p::configure_provider::Request>,
    ) -> Rpc<p::configure_provider::Response> {
        Ok(Response::new(p::configure_provider::Response { diagnostics: unsupported("ConfigureProvider") }))
    }

    async fn read_resource(&self, _: Request<p::read_resource::Request>) -> Rpc<p::read_resource::Response> {
        Ok(Response::new(p::read_resource::Response { diagnostics: unsupported("ReadResource") }))
    }

    async fn plan_resource_change(
        &self,
        _: Request<p::plan_resource_change::Request>,
    ) -> Rpc<p::plan_resource_change::Response> {
        Ok(Response::new(p::plan_resource_change::Response {
            diagnostics: unsupported("PlanResourceChange"),
        }))
    }

    async fn apply_resource_change(
        &self,
        _: Request<p::apply_resource_change::Request>,
    ) -> Rpc<p::apply_resource_change::Response> {
        Ok(Response::new(p::apply_resource_change::Response {
            diagnostics: unsupported("ApplyResourceChange"),
        }))
    }

    async fn import_resource_state(
        &self,
        _: Request<p::import_resource_state::Request>,
    ) -> Rpc<p::import_resource_state::Response> {
        Ok(Response::new(p::import_resource_state::Response {
            diagnostics: unsupported("ImportResourceState"),
        }))
    }

    async fn read_data_source(
        &self,
        _: Request<p::read_data_source::Request>,
    ) -> Rpc<p::read_data_source::Response> {
        Ok(Response::new(p::read_data_source::Response { diagnostics: unsupported("ReadDataSource") }))
    }

    async fn stop_provider(&self, _: Request<p::stop_provider::Request>) -> Rpc<p::stop_provider::Response> {
        Ok(Response::new(p::stop_provider::Response { error: String::new() }))
    }
}

/// go-plugin's controller: `Shutdown` stops the server.
pub struct Controller {
    pub shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        self.shutdown.notify_one();
        Ok(Response::new(Empty {}))
    }
}
