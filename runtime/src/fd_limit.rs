//! The open-file limit: every client, backend and listener holds one
//! descriptor.
//!
//! Most systems start a process with a soft limit of 1,024 descriptors
//! (systemd's default, and most shells') under a far higher hard limit
//! (524,288 under systemd). A relay for a thousand agents would then refuse
//! the 1,021st client although the system allows many more. So, like Go's
//! runtime (since 1.19) and haproxy, the proxy raises its soft limit to the
//! hard one at start. Beyond the hard limit only the administrator can go
//! (`LimitNOFILE=` in a systemd unit, `ulimit -Hn`, `nofile` in
//! limits.conf), which is what the accept warning says when the limit is
//! reached anyway (see `modules/listen.rs`).

/// Linux refuses a limit above `fs.nr_open` (1,048,576 by default), and an
/// unlimited hard limit cannot be the soft one.
const CEILING: u64 = 1 << 20;

/// The soft limit before and after raising it to the hard limit (capped at
/// [`CEILING`]); the same twice when it was already there.
pub fn raise() -> std::io::Result<(u64, u64)> {
    let mut limit = get()?;
    let before = limit.rlim_cur;
    let target = limit.rlim_max.min(CEILING);
    if before >= target {
        return Ok((before, before));
    }
    limit.rlim_cur = target;
    // SAFETY: setrlimit reads one initialised struct that lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, target))
}

/// The soft limit now, for messages; `None` when it cannot be read.
pub fn current() -> Option<u64> {
    get().ok().map(|limit| limit.rlim_cur)
}

fn get() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one struct that lives across the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}
