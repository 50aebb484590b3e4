//! Serving: the Adapter service with `grpc.health.v1` and server reflection,
//! until SIGTERM or SIGINT, finishing calls in flight. Part of the
//! aip-builder gRPC service runtime; copied verbatim into every service.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use crate::Adapter;
use crate::config::Config;
use crate::proto::adapter_server::AdapterServer;
use crate::service::{AdapterService, Vendor};

/// Serves until a shutdown signal.
pub async fn serve(adapter: &'static Adapter, config: Config) -> Result<(), String> {
    let vendor = Vendor::new(adapter, &config)?;
    let endpoint = vendor
        .endpoint()
        .unwrap_or("(none: set AIP_VENDOR_URL)")
        .to_string();
    let service = AdapterServer::new(AdapterService::new(adapter, vendor, &config));

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<AdapterServer<AdapterService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| format!("reflection service: {e}"))?;

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (AIP_LISTEN): {e}", config.listen))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listening socket: {e}"))?;
    tracing::info!(
        module = adapter.module,
        listen = %local,
        vendor = endpoint,
        "listening"
    );
    Server::builder()
        .add_service(health)
        .add_service(reflection)
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM (container stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
