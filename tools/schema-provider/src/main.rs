//! A schema-only Terraform provider for `hashicorp/aws`, speaking plugin protocol 6.
//!
//! It serves the real provider's schema (read from the file named by
//! `DRGEN_PROVIDER_SCHEMA`, in the format of `terraform providers schema -json`) so that
//! `terraform validate` checks a configuration against it without network access. Validation
//! RPCs return no diagnostics, because Terraform core checks the configuration against the
//! schema; every other RPC answers with an error diagnostic.

mod schema;
mod service;

#[allow(clippy::all, clippy::pedantic)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

#[allow(clippy::all, clippy::pedantic)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use tokio::sync::Notify;
use tonic::transport::{Identity, Server, ServerTlsConfig};

/// go-plugin's magic cookie for Terraform providers.
const COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// The environment variable that names the schema file.
const SCHEMA_ENV: &str = "DRGEN_PROVIDER_SCHEMA";

fn main() -> ExitCode {
    if std::env::var(COOKIE_KEY).as_deref() != Ok(COOKIE_VALUE) {
        eprintln!("This binary is a Terraform plugin. It is started by Terraform, not directly.");
        return ExitCode::from(1);
    }
    let Some(path) = std::env::var_os(SCHEMA_ENV).map(PathBuf::from) else {
        eprintln!("{SCHEMA_ENV} must name a schema file from `terraform providers schema -json`");
        return ExitCode::from(1);
    };
    let schema = match schema::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot load the provider schema: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    match runtime.map_err(|e| e.to_string()).and_then(|rt| rt.block_on(serve(schema))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("schema provider failed: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(schema: tfplugin6::get_provider_schema::Response) -> Result<(), String> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).map_err(|e| e.to_string())?;
    let cert_der = key.cert.der().to_vec();
    let identity = Identity::from_pem(key.cert.pem(), key.signing_key.serialize_pem());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shutdown = Arc::new(Notify::new());

    // Terraform's client certificate is not verified: it is P-521 and marked as a CA, which
    // rustls refuses, and the server listens on loopback only.
    let tls = ServerTlsConfig::new().identity(identity);
    let server = Server::builder()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .add_service(
            tfplugin6::provider_server::ProviderServer::new(service::SchemaProvider::new(schema))
                .max_encoding_message_size(256 << 20),
        )
        .add_service(plugin::grpc_controller_server::GrpcControllerServer::new(service::Controller {
            shutdown: shutdown.clone(),
        }));

    let handshake =
        format!("1|6|tcp|{addr}|grpc|{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(&cert_der));
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{handshake}").and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
    drop(stdout);

    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    server
        .serve_with_incoming_shutdown(incoming, async move { shutdown.notified().await })
        .await
        .map_err(|e| e.to_string())
}
