//! Reads whisper files (the storage format of carbon-cache) directly.
//!
//! A whisper file is a fixed-size ring of `(timestamp: u32, value: f64)`
//! points, all big-endian:
//!
//! ```text
//! header   aggregation u32 | max_retention u32 | x_files_factor f32 | archive_count u32
//! archive  offset u32 | seconds_per_point u32 | points u32       (archive_count times)
//! data     at each archive's offset: points x (timestamp u32, value f64)
//! ```
//!
//! A slot that was never written holds timestamp 0. Reading the bytes
//! ourselves instead of shelling out to `whisper-fetch` keeps the test free of
//! its output format and of its "from 24 hours ago until now" window.

use std::path::Path;

/// One stored point: Unix seconds and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time: u32,
    pub value: f64,
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32, String> {
    let b = bytes
        .get(at..at + 4)
        .ok_or_else(|| format!("whisper file truncated at byte {at}"))?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be_f64(bytes: &[u8], at: usize) -> Result<f64, String> {
    let b = bytes
        .get(at..at + 8)
        .ok_or_else(|| format!("whisper file truncated at byte {at}"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(f64::from_be_bytes(a))
}

/// Every written point of the finest archive, oldest first.
pub fn read_points(path: &Path) -> Result<Vec<Point>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let archive_count = be_u32(&bytes, 12)?;
    if archive_count == 0 {
        return Err(format!("{} has no archive", path.display()));
    }
    // Archive 0 is the finest one (the storage schema gives exactly one).
    let offset = be_u32(&bytes, 16)? as usize;
    let points = be_u32(&bytes, 24)? as usize;
    let mut out = Vec::new();
    for i in 0..points {
        let at = offset + i * 12;
        let time = be_u32(&bytes, at)?;
        if time != 0 {
            out.push(Point {
                time,
                value: be_f64(&bytes, at + 4)?,
            });
        }
    }
    out.sort_by_key(|p| p.time);
    Ok(out)
}
