//! Walking the frames of one log image: shared by recovery (read-only) and by `LeaseLog::open`
//! (to find the logical end). Stops at the first damaged frame and counts what lies behind it.

use crate::record::{self, Damage, Frame, FILE_HEADER_LEN};

/// Outcome of scanning one log image.
pub(crate) struct Scan {
    /// Offset just past the last good frame: where the next append goes.
    pub end: usize,
    /// Sequence number of the last good frame (0 when none).
    pub last_seq: u64,
    /// Good frames before `end`.
    pub kept: u64,
    /// Frames at or after the damage that were not applied (the damaged one included).
    pub dropped: u64,
    pub damage: Option<Damage>,
}

/// Scans `bytes` (a whole file image, header included) and calls `visit(offset, frame)` for every
/// good frame in order. A file too short for its header, or with a foreign header, reports
/// `BadFileHeader` with nothing kept (an all-zero header is an empty log just created).
pub(crate) fn scan_log(
    bytes: &[u8],
    family_code: u8,
    mut visit: impl FnMut(usize, &Frame<'_>),
) -> Scan {
    let mut scan = Scan {
        end: FILE_HEADER_LEN,
        last_seq: 0,
        kept: 0,
        dropped: 0,
        damage: None,
    };
    match bytes.get(..FILE_HEADER_LEN) {
        Some(h) if h == record::file_header(family_code) => {}
        Some(h) if h.iter().all(|b| *b == 0) => return scan,
        None if bytes.iter().all(|b| *b == 0) => return scan,
        _ => {
            scan.end = 0;
            scan.damage = Some(Damage::BadFileHeader);
            return scan;
        }
    }
    let mut at = FILE_HEADER_LEN;
    loop {
        let rest = bytes.get(at..).unwrap_or(&[]);
        match record::read_frame(rest) {
            Ok(None) => break,
            Ok(Some(frame)) if frame.seq <= scan.last_seq => {
                scan.damage = Some(Damage::SequenceNotIncreasing);
                break;
            }
            Ok(Some(frame)) => {
                visit(at, &frame);
                scan.kept += 1;
                scan.last_seq = frame.seq;
                at += frame.size;
            }
            Err(damage) => {
                scan.damage = Some(damage);
                break;
            }
        }
    }
    scan.end = at;
    if scan.damage.is_some() {
        scan.dropped = 1 + count_frames_after(bytes, at + 8, scan.last_seq);
    }
    scan
}

/// Counts good-looking frames after a damaged one (for the report only: none is applied, the
/// log's history is cut at the damage). Steps 8 bytes at a time; bounded by the file length.
fn count_frames_after(bytes: &[u8], from: usize, after_seq: u64) -> u64 {
    let mut count = 0;
    let mut at = from;
    let mut last_seq = after_seq;
    while at + record::FRAME_HEADER_LEN <= bytes.len() {
        let rest = bytes.get(at..).unwrap_or(&[]);
        match record::read_frame(rest) {
            Ok(Some(frame)) if frame.seq > last_seq => {
                count += 1;
                last_seq = frame.seq;
                at += frame.size;
            }
            _ => at += 8,
        }
    }
    count
}
