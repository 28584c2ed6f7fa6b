//! Start-up failures of tcp.in and tcp.out: one line naming the module and
//! the address, exit status 1, no panic.

use std::net::TcpListener;
use std::time::Duration;

use crate::peers::free_port;
use crate::process::ProxyProcess;

fn run_to_exit(vars: &[(&str, String)]) -> (Option<i32>, String) {
    let mut proxy = ProxyProcess::start("one", vars, &[]);
    let status = proxy.wait(Duration::from_secs(15));
    (status.and_then(|s| s.code()), proxy.log_text())
}

fn errors(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.starts_with("error")).collect()
}

/// tcp.in on a port that is already taken.
pub fn start_error_port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (code, log) = run_to_exit(&[
        ("WBC_TEST_IN", port.to_string()),
        ("WBC_TEST_OUT", free_port().to_string()),
    ]);
    println!("figures start_error_port_in_use: exit={code:?} stderr={log:?}");
    assert_eq!(code, Some(1), "{log}");
    let errs = errors(&log);
    assert_eq!(errs.len(), 1, "{log}");
    assert!(
        errs[0].contains("module `input` (tcp.in)")
            && errs[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        errs[0]
    );
    assert!(errs[0].contains("address already in use"), "{}", errs[0]);
    assert!(!log.contains("panicked"), "{log}");
}

/// tcp.out aimed at a host name that does not resolve.
pub fn start_error_unresolvable_host() {
    let (code, log) = run_to_exit(&[
        ("WBC_TEST_IN", free_port().to_string()),
        ("WBC_TEST_OUT", free_port().to_string()),
        ("WBC_TEST_OUT_HOST", "no-such-host.invalid".to_string()),
    ]);
    println!("figures start_error_unresolvable_host: exit={code:?} stderr={log:?}");
    assert_eq!(code, Some(1), "{log}");
    let errs = errors(&log);
    assert_eq!(errs.len(), 1, "{log}");
    assert!(
        errs[0].contains("module `output` (tcp.out)") && errs[0].contains("no-such-host.invalid"),
        "{}",
        errs[0]
    );
    assert!(!log.contains("panicked"), "{log}");
}
