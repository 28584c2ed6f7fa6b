//! The child side: with `WBC_RT_CHILD=<graph>` the test binary is a proxy
//! wired by hand, the way generated code wires one.

use std::ffi::OsString;
use std::process::ExitCode;

use wbc_runtime::modules::*;
use wbc_runtime::{launch_with_args, Proxy, ProxyInfo, StartError};

pub const CHILD: &str = "WBC_RT_CHILD";
pub const CHILD_ARGS: &str = "WBC_RT_CHILD_ARGS";
pub const CHILD_PATH: &str = "WBC_RT_CHILD_PATH";
pub const CHILD_FAILED_PATH: &str = "WBC_RT_CHILD_FAILED_PATH";

/// The hand-wired proxy a child runs.
pub fn child(graph: &str) -> ExitCode {
    let args: Vec<OsString> = std::env::var(CHILD_ARGS)
        .unwrap_or_default()
        .split_whitespace()
        .map(OsString::from)
        .collect();
    let info = ProxyInfo {
        source: "hand_wired.wb",
        sha256: "5e1f00d",
        compiler: "wbc test",
    };
    let path = || -> &'static str {
        Box::leak(
            std::env::var(CHILD_PATH)
                .unwrap_or_default()
                .into_boxed_str(),
        )
    };
    let graph = graph.to_string();
    launch_with_args(
        info,
        args,
        move |proxy: &mut Proxy| -> Result<(), StartError> {
            let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
            if graph == "stuck" {
                // Down before stdin starts: its events wait in the locked queue.
                rx.lock();
            }
            proxy.spawn(Stdin::new(StdinConfig { name: "input" }, tx)?);
            match graph.as_str() {
                "stdout" => proxy.spawn(Stdout::new(StdoutConfig { name: "output" }, rx)?),
                "null" => proxy.spawn(Null::new(NullConfig { name: "output" }, rx)?),
                "file" => proxy.spawn(FileOut::new(
                    FileOutConfig {
                        name: "output",
                        path: path(),
                    },
                    rx,
                    None,
                )?),
                "file_failed" => {
                    let (f_tx, f_rx) = proxy.queue("output", "failed", "spare", "inbox");
                    let spare: &'static str = Box::leak(
                        std::env::var(CHILD_FAILED_PATH)
                            .unwrap_or_default()
                            .into_boxed_str(),
                    );
                    proxy.spawn(FileOut::new(
                        FileOutConfig {
                            name: "output",
                            path: path(),
                        },
                        rx,
                        Some(f_tx),
                    )?);
                    proxy.spawn(FileOut::new(
                        FileOutConfig {
                            name: "spare",
                            path: spare,
                        },
                        f_rx,
                        None,
                    )?);
                }
                "stuck" => proxy.spawn(Stuck { inbox: rx }),
                other => {
                    return Err(StartError::new(
                        "test",
                        "test",
                        format!("unknown child graph `{other}`"),
                    ))
                }
            }
            Ok(())
        },
    )
}

/// An output that is down for good: holds its locked inbox until the proxy
/// finishes, so every event sent to it stays undelivered.
struct Stuck {
    inbox: wbc_runtime::Receiver,
}

impl wbc_runtime::Module for Stuck {
    fn name(&self) -> &'static str {
        "output"
    }

    async fn run(self) {
        self.inbox.context().finishing().await;
    }
}
