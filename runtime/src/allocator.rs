//! How the proxy asks glibc's allocator to treat its event buffers.
//!
//! Events live in the buffers they were read into (up to 256 KiB each, see
//! `tcp_in`) and in roundrobin's per-member copies. A buffer is freed once
//! every event in it has been written and acknowledged, and the next read
//! allocates a new one, so the proxy allocates and frees a few hundred
//! kilobytes many times a second. With glibc's defaults that memory keeps
//! going back to the kernel: the heap's top is trimmed whenever a little
//! more than the largest recent allocation is free there, and the threshold
//! for giving an allocation its own `mmap` moves with the sizes seen. The
//! next buffer then lands on fresh pages, each one a page fault and 4 KiB of
//! zeroing in the kernel.
//!
//! Measured with `/usr/bin/time` on 5,000,000 64-byte lines (`wbc-one`
//! of bench/, two runs each): 11,900-13,000 minor page faults and 0.10-0.16 s
//! of system time with the defaults; 600 faults and 0.06-0.09 s with the
//! settings below (roundrobin: 5,100-10,600 faults, 0.14-0.19 s, against
//! 890-940 faults, 0.08-0.09 s). Peak RSS did not change (4.6-6.4 MiB).
//!
//! The cost: up to [`TRIM_THRESHOLD`] of free memory at the heap's top stays
//! with the process after a burst instead of going back to the kernel.

/// Free memory at the heap's top kept for reuse rather than returned.
pub const TRIM_THRESHOLD: usize = 8 << 20;
/// Allocations from this size on get their own mapping (an unusually long
/// line's buffer); below it they come from the heap. Fixed, so it does not
/// drift with the sizes the proxy happens to allocate.
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Applies the settings above; false when the allocator refused them (or is
/// not glibc's, where there is nothing to tune).
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt takes two integers and only changes allocator
        // parameters; glibc serialises it with the allocator's own lock.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #[test]
    fn glibc_accepts_the_settings() {
        assert!(super::tune());
    }
}
