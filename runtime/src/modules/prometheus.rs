//! `metrics.prometheus`: an HTTP endpoint that Prometheus scrapes.
//!
//! Every GET (conventionally `GET /metrics`) is answered with the proxy's
//! counters in the Prometheus text exposition format, version 0.0.4, read
//! from the same [`crate::metrics::Registry`] that `metrics.graphite` reads,
//! at the moment of the scrape:
//!
//! ```text
//! # HELP wbc_queue_events_total Events that entered (direction="in") or left (direction="out") a queue.
//! # TYPE wbc_queue_events_total counter
//! wbc_queue_events_total{module="input",queue="outbox",direction="in"} 10000
//! wbc_queue_events_total{module="output",queue="inbox",direction="in"} 10000
//! ```
//!
//! One queue joins two endpoints (`input.outbox -> output.inbox`), and each
//! endpoint is labelled on its own, exactly as graphite names both. Families:
//! `wbc_queue_events_total{module,queue,direction}`,
//! `wbc_queue_dropped_total{module,queue}`, the gauge
//! `wbc_queue_size{module,queue}`, and from the per-module values that
//! modules register (tcp.out's `connected` and `reconnects`)
//! `wbc_module_connected{module}` and `wbc_module_reconnects_total{module}`;
//! any other per-module value is a gauge `wbc_module_<name>{module}`.
//!
//! The module has no queues and never touches the event path: a scrape only
//! loads atomics. The format is written by `prometheus-client` (the
//! Prometheus project's own Rust client, which also escapes label values) and
//! the HTTP/1.1 side is hyper's server, so no HTTP parsing lives here.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::listen::{listen, AcceptErrors};
use crate::context::Context;
use crate::metrics::{Registry, CONNECTED, RECONNECTS};
use crate::{Module, StartError};

const KIND: &str = "metrics.prometheus";

/// Scrapes served at the same time; more wait in the accept backlog.
const MAX_CONNECTIONS: usize = 32;

/// A client that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct PrometheusConfig {
    pub name: &'static str,
    pub port: u16,
    pub host: &'static str,
}

/// The bound endpoint; [`Module::run`] serves it until the proxy finishes.
pub struct Prometheus {
    name: &'static str,
    listener: TcpListener,
    ctx: Option<Arc<Context>>,
}

impl Prometheus {
    /// Binds host:port now, so that a port in use is a start-up error naming
    /// this module. Must run inside the tokio runtime (as `launch` does).
    pub fn new(config: PrometheusConfig) -> Result<Prometheus, StartError> {
        let PrometheusConfig { name, port, host } = config;
        Ok(Prometheus {
            name,
            listener: listen(name, KIND, host, port)?,
            ctx: None,
        })
    }

    /// The address actually bound (useful with port 0 in tests).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }
}

impl Module for Prometheus {
    fn name(&self) -> &'static str {
        self.name
    }

    fn attach(&mut self, ctx: &Arc<Context>) {
        self.ctx = Some(ctx.clone());
    }

    fn run(self) -> impl Future<Output = ()> + Send + 'static {
        serve(self)
    }
}

async fn serve(module: Prometheus) {
    let Prometheus {
        name,
        listener,
        ctx,
    } = module;
    let Some(ctx) = ctx else {
        tracing::error!("module `{name}` ({KIND}) was never attached to a proxy; not serving");
        return;
    };
    let shown = listener
        .local_addr()
        .map_or("its port".to_string(), |a| a.to_string());
    tracing::info!("module `{name}` ({KIND}) serves metrics on http://{shown}/metrics");
    let mut accept_errors = AcceptErrors::default();
    let exposition = Arc::new(Exposition::new(ctx.clone()));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = ctx.finishing() => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = ctx.finishing() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    if let Some(warning) = accept_errors.note(name, KIND, &shown, &e, std::time::Instant::now()) {
                        tracing::warn!("{warning}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let exposition = exposition.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let exposition = exposition.clone();
                async move { Ok::<_, Infallible>(respond(&exposition, &req)) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("metrics client error: {e}");
            }
            drop(permit);
        });
    }
}

fn respond(exposition: &Exposition, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported\n");
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if !matches!(req.uri().path(), "/metrics" | "/") {
        return plain(StatusCode::NOT_FOUND, "metrics are served at /metrics\n");
    }
    match exposition.render() {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                ),
            );
            r
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n"),
    }
}

/// Renders the registry of one proxy; a `prometheus_client` registry holding
/// one collector that reads the atomics on every scrape.
pub struct Exposition {
    registry: prometheus_client::registry::Registry,
}

impl Exposition {
    pub fn new(ctx: Arc<Context>) -> Exposition {
        let mut registry = prometheus_client::registry::Registry::default();
        // A trait object here is the collector API's; it is called once per
        // scrape, never per event.
        registry.register_collector(Box::new(ProxyCollector { ctx }));
        Exposition { registry }
    }

    /// The whole response body.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry)?;
        Ok(body)
    }
}

#[derive(Debug)]
struct ProxyCollector {
    ctx: Arc<Context>,
}

/// `(module, queue)` and the counters seen from that endpoint; both ends of a
/// queue see the same counters.
struct Endpoint {
    module: &'static str,
    queue: &'static str,
    counters: crate::metrics::Counters,
}

fn endpoints(registry: &Registry) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for q in registry.queues() {
        let counters = q.stats.snapshot();
        out.push(Endpoint {
            module: q.from_module,
            queue: q.from_queue,
            counters,
        });
        out.push(Endpoint {
            module: q.to_module,
            queue: q.to_queue,
            counters,
        });
    }
    out
}

impl Collector for ProxyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let registry = self.ctx.metrics();
        let endpoints = endpoints(registry);

        let mut family = encoder.encode_descriptor(
            "wbc_queue_events",
            "Events that entered (direction=\"in\") or left (direction=\"out\") a queue, seen from one of its two ends.",
            None,
            MetricType::Counter,
        )?;
        for e in &endpoints {
            for (direction, value) in [("in", e.counters.in_), ("out", e.counters.out)] {
                let labels = [
                    ("module", e.module),
                    ("queue", e.queue),
                    ("direction", direction),
                ];
                ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "wbc_queue_dropped",
            "Events given up on at a queue (over-long lines, undeliverable events, metrics that did not fit).",
            None,
            MetricType::Counter,
        )?;
        for e in &endpoints {
            let labels = [("module", e.module), ("queue", e.queue)];
            ConstCounter::new(e.counters.dropped).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "wbc_queue_size",
            "Events waiting in a queue now.",
            None,
            MetricType::Gauge,
        )?;
        for e in &endpoints {
            let labels = [("module", e.module), ("queue", e.queue)];
            ConstGauge::new(e.counters.size as i64).encode(family.encode_family(&labels)?)?;
        }

        encode_module_values(registry, &mut encoder)
    }
}

/// Per-module values grouped into one family per value name.
fn encode_module_values(
    registry: &Registry,
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let values = registry.modules();
    let mut names: Vec<&'static str> = values.iter().map(|m| m.metric).collect();
    names.sort_unstable();
    names.dedup();
    for metric in names {
        let (family_name, help, kind) = match metric {
            CONNECTED => (
                "wbc_module_connected".to_string(),
                "1 while the module is connected to its destination, 0 while it is down."
                    .to_string(),
                MetricType::Gauge,
            ),
            RECONNECTS => (
                "wbc_module_reconnects".to_string(),
                "Times the module reconnected to its destination.".to_string(),
                MetricType::Counter,
            ),
            other => (
                format!("wbc_module_{}", metric_name_part(other)),
                format!("Per-module value `{other}`."),
                MetricType::Gauge,
            ),
        };
        let mut family = encoder.encode_descriptor(&family_name, &help, None, kind)?;
        for m in values.iter().filter(|m| m.metric == metric) {
            let value = m.value.load(std::sync::atomic::Ordering::Relaxed);
            let labels = [("module", m.module)];
            if kind == MetricType::Counter {
                ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
            } else {
                ConstGauge::new(value as i64).encode(family.encode_family(&labels)?)?;
            }
        }
    }
    Ok(())
}

/// A value name as a metric-name part: `[a-zA-Z0-9_]`, others become `_`.
fn metric_name_part(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::metric_name_part;

    #[test]
    fn value_names_become_metric_name_parts() {
        assert_eq!(metric_name_part("bytes.written now"), "bytes_written_now");
        assert_eq!(metric_name_part("connected"), "connected");
    }
}
