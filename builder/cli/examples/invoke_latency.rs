//! Invoke latency: 1,000 calls of one operation against a local vendor,
//! next to the same request made directly with an HTTP client, in the same
//! run. A WASM module is called through the embedded host (one instance,
//! reused); a gRPC module through its service executable (started on a
//! loopback port, one reused channel, `Invoke` per call).
//!
//! cargo run --release -p aip-builder --example invoke_latency -- <MODULE_DIR> <OPERATION> '<input json>' <direct path>
//!
//! A benchmark harness: a failed setup step ends it with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use aip_adapter_proto::v1::adapter_client::AdapterClient;
use aip_adapter_proto::v1::{Credential, InvokeRequest};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module, operation, input, direct_path] = args.as_slice() else {
        anyhow::bail!("usage: invoke_latency <MODULE_DIR> <OPERATION> <INPUT_JSON> <DIRECT_PATH>");
    };
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("{e}"))?;
    let addr = server.server_addr().to_string();
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(req.as_reader(), &mut sink);
            let header =
                tiny_http::Header::from_bytes("content-type", "application/json").expect("header");
            let _ = req.respond(
                tiny_http::Response::from_string(r#"{"id":7,"name":"seven"}"#).with_header(header),
            );
        }
    });
    let opened = aip_register::open_module(std::path::Path::new(module))?;
    let (label, mut via_adapter) = if opened.manifest.runtime.kind == aip_register::Runtime::GRPC {
        (
            "service (tonic Invoke -> hyper)",
            through_service(&opened, &addr, operation, input, n)?,
        )
    } else {
        (
            "adapter (wasmtime + wasi:http)",
            through_component(&opened, &addr, operation, input, n)?,
        )
    };
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let url = format!("http://{addr}{direct_path}");
    for _ in 0..50 {
        agent
            .get(&url)
            .header("x-api-key", "k")
            .call()?
            .body_mut()
            .read_to_string()?;
    }
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        agent
            .get(&url)
            .header("x-api-key", "k")
            .call()?
            .body_mut()
            .read_to_string()?;
        direct.push(t.elapsed());
    }
    let (a50, a99) = (
        percentile(&mut via_adapter, 0.50),
        percentile(&mut via_adapter, 0.99),
    );
    let (d50, d99) = (percentile(&mut direct, 0.50), percentile(&mut direct, 0.99));
    println!("calls: {n} each, instance or channel reused");
    println!("{label}: p50 {a50:?}  p99 {a99:?}");
    println!("direct (ureq, keep-alive): p50 {d50:?}  p99 {d99:?}");
    println!("overhead p50: {:?}", a50.saturating_sub(d50));
    Ok(())
}

fn through_component(
    opened: &aip_register::OpenedModule,
    addr: &str,
    operation: &str,
    input: &str,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let loaded = aip_host::LoadedComponent::new(&opened.payload)?;
    let mut allow = aip_host::AllowList::new(opened.manifest.permissions.net.clone());
    allow.push(addr);
    let mut adapter = loaded.instantiate(&aip_host::HostOptions {
        allow,
        max_memory_bytes: 128 << 20,
    })?;
    let ctx = aip_host::CallContext {
        credentials: vec![aip_host::Credential {
            scheme: "headerKey".into(),
            value: "k".into(),
        }],
        server_url: Some(format!("http://{addr}/v2")),
        request_id: None,
    };
    // Warm up both paths.
    for _ in 0..50 {
        adapter
            .invoke(operation, input, &ctx)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let mut via_adapter = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        adapter
            .invoke(operation, input, &ctx)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        via_adapter.push(t.elapsed());
    }
    Ok(via_adapter)
}

fn through_service(
    opened: &aip_register::OpenedModule,
    addr: &str,
    operation: &str,
    input: &str,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let vendor = format!("http://{addr}/v2");
    let service = aip_host::service::ServiceProcess::start(
        &opened.payload,
        &[("AIP_VENDOR_URL", vendor.as_str()), ("AIP_LOG", "info")],
    )?;
    let listen = service.addr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let mut client = AdapterClient::connect(format!("http://{listen}")).await?;
        let request = || InvokeRequest {
            operation: operation.to_string(),
            input_json: input.to_string(),
            credentials: vec![Credential {
                scheme: "headerKey".into(),
                value: "k".into(),
            }],
            request_id: String::new(),
        };
        for _ in 0..50 {
            client.invoke(request()).await?;
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            client.invoke(request()).await?;
            samples.push(t.elapsed());
        }
        Ok::<_, anyhow::Error>(samples)
    });
    drop(service);
    result
}
