//! Reading and decompressing an input, capped.
//!
//! Compression is recognised by magic bytes, not file names: S3 exports and SIEM archives rename
//! files freely. gzip members are read one after another (CloudTrail and Firehose write
//! multi-member files). Output stops at `cap` bytes so that a decompression bomb costs at most
//! `cap` of memory; the part read before a corrupt or truncated stream is kept.

use std::io::{self, Read};

use crate::diagnostic::Reason;

/// Default decompressed-size cap per input file. CloudTrail files are a few MB; 1 GiB leaves room
/// for large JSON-lines exports while bounding memory per worker thread.
pub const DEFAULT_CAP: u64 = 1 << 30;

/// A decoded input: its bytes and, when reading stopped early, why.
#[derive(Debug, Default)]
pub struct Decoded {
    pub bytes: Vec<u8>,
    pub compression: Compression,
    /// Set when the bytes are a prefix of the content: corrupt stream or cap reached.
    pub problem: Option<(Reason, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Decodes `raw` (the file's bytes as stored).
pub fn decode(raw: Vec<u8>, cap: u64) -> Decoded {
    if raw.starts_with(GZIP_MAGIC) {
        if let Some(bytes) = gunzip_single_member(&raw, cap) {
            recycle(raw);
            return Decoded {
                bytes,
                compression: Compression::Gzip,
                problem: None,
            };
        }
        let reader = flate2::read::MultiGzDecoder::new(&raw[..]);
        let decoded = read_capped(reader, cap, Compression::Gzip, raw.len());
        recycle(raw);
        decoded
    } else if raw.starts_with(ZSTD_MAGIC) {
        match zstd::stream::read::Decoder::new(&raw[..]) {
            Ok(reader) => read_capped(reader, cap, Compression::Zstd, raw.len()),
            Err(err) => Decoded {
                bytes: Vec::new(),
                compression: Compression::Zstd,
                problem: Some((Reason::CorruptCompression, format!("zstd: {err}"))),
            },
        }
    } else if raw.len() as u64 > cap {
        let mut bytes = raw;
        bytes.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        Decoded {
            bytes,
            compression: Compression::None,
            problem: Some((
                Reason::SizeCapExceeded,
                format!("file is larger than the {cap}-byte cap"),
            )),
        }
    } else {
        Decoded {
            bytes: raw,
            compression: Compression::None,
            problem: None,
        }
    }
}

thread_local! {
    static GUNZIP: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
    /// Buffers this thread finished with (see [`recycle`]): a file's bytes as read and, when it
    /// was compressed, its decompressed bytes.
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers larger than this are freed rather than kept for the next file, so that one huge input
/// does not pin its size in every worker for the rest of the scan.
const SPARE_MAX: usize = 64 << 20;
/// Buffers kept per thread: one for the bytes read, one for what they inflate to.
const SPARE_KEPT: usize = 2;

/// Hands a buffer back once its file is parsed. The next file this thread reads, or one-member
/// gzip file it inflates, goes into it: a fresh buffer per file was faulted in page by page (and,
/// for libdeflate, which writes into an initialised slice, zeroed), about 5 % of a CloudTrail
/// scan and 12 % of an access-log scan.
pub fn recycle(bytes: Vec<u8>) {
    if bytes.capacity() <= SPARE_MAX && bytes.capacity() > 0 {
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_KEPT {
                spare.push(bytes);
            }
        });
    }
}

/// A buffer this thread recycled, still holding its last bytes (so that a caller that
/// overwrites them need not zero them first), or a new one.
fn spare_buffer() -> Vec<u8> {
    SPARE.with(|spare| spare.borrow_mut().pop()).unwrap_or_default()
}

/// A file's bytes as stored, read into a recycled buffer ([`recycle`] it, or what [`decode`]
/// made of it, when done).
pub fn read_file(path: &std::path::Path) -> io::Result<Vec<u8>> {
    let mut bytes = spare_buffer();
    bytes.clear();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The common case, one gzip member as CloudTrail writes it, decompressed in one call by
/// libdeflate (with its CRC-32, about 3× faster than the streaming path on CloudTrail). It answers only
/// when the result is certain to be what the streaming path yields; anything else (several
/// members, bytes after the member, a header CRC, a size over the cap, a damaged stream) returns
/// `None` and the streaming path alone decides what the file yields and what is reported. (The
/// two inflaters could only disagree on a crafted stream that one of them rejects; libdeflate
/// still checks it against the member's CRC-32 and size.)
fn gunzip_single_member(raw: &[u8], cap: u64) -> Option<Vec<u8>> {
    const FHCRC: u8 = 1 << 1;
    const FRESERVED: u8 = 0xe0;
    // Header (10) + the shortest deflate stream (2) + trailer (8).
    if raw.len() < 20 || raw[2] != 8 || raw[3] & (FHCRC | FRESERVED) != 0 {
        return None;
    }
    let size_field = &raw[raw.len() - 4..];
    let size = u64::from(u32::from_le_bytes(size_field.try_into().ok()?));
    // Deflate expands at most 1032:1: a larger claim is not this file's size.
    if size == 0 || size > cap || size > (raw.len() as u64).saturating_mul(1032) {
        return None;
    }
    let size = usize::try_from(size).ok()?;
    let mut out = spare_buffer();
    // Only bytes past the recycled buffer's length are zeroed; the rest are overwritten.
    out.resize(size, 0);
    let written = GUNZIP.with(|d| d.borrow_mut().gzip_decompress(raw, &mut out)).ok()?;
    // libdeflate checked the first member's CRC-32 and size (`written`, mod 2^32) in the 8 bytes
    // right after its deflate data, and ignores whatever follows. That member is the whole file
    // only if its size field is the file's last 4 bytes: so `written` must be the size the file
    // ends with, and those 4 bytes must occur nowhere earlier in the file.
    if written != out.len() || memchr::memmem::find(raw, size_field) != Some(raw.len() - 4) {
        return None;
    }
    Some(out)
}

fn read_capped(reader: impl Read, cap: u64, compression: Compression, compressed_len: usize) -> Decoded {
    // Reserve for a typical ratio but never more than the cap.
    let guess = (compressed_len as u64).saturating_mul(8).min(cap);
    let mut bytes = Vec::with_capacity(usize::try_from(guess).unwrap_or(0));
    let mut limited = reader.take(cap.saturating_add(1));
    let result = read_to_end_keeping_prefix(&mut limited, &mut bytes);
    let name = match compression {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::None => "plain",
    };
    let problem = match result {
        Err(err) => Some((
            Reason::CorruptCompression,
            format!(
                "{name} stream is truncated or corrupt after {} decompressed bytes: {err}",
                bytes.len()
            ),
        )),
        Ok(()) if bytes.len() as u64 > cap => {
            bytes.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
            Some((
                Reason::SizeCapExceeded,
                format!("{name} content exceeds the {cap}-byte decompression cap; the rest was not read"),
            ))
        }
        Ok(()) => None,
    };
    Decoded {
        bytes,
        compression,
        problem,
    }
}

/// Like `read_to_end`, but what was read before an error stays in `buf`.
fn read_to_end_keeping_prefix(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_recycled_buffer_never_leaks_the_previous_file_into_the_next() {
        // Long, short, long again: the short file must not carry the long one's tail, and the
        // second long one must not keep the short one's bytes.
        let long: Vec<u8> = (0..50_000u32).flat_map(|i| format!("a{i}\n").into_bytes()).collect();
        let short = b"short file\n".to_vec();
        let other: Vec<u8> = (0..60_000u32).flat_map(|i| format!("b{i}\n").into_bytes()).collect();
        for data in [&long, &short, &other, &short] {
            let d = decode(gzip(data), DEFAULT_CAP);
            assert!(d.problem.is_none());
            assert_eq!(&d.bytes, data);
            recycle(d.bytes);
        }
    }

    #[test]
    fn reads_every_member_of_a_multi_member_gzip() {
        let mut raw = gzip(b"first\n");
        raw.extend(gzip(b"second\n"));
        let d = decode(raw, DEFAULT_CAP);
        assert_eq!(d.bytes, b"first\nsecond\n");
        assert!(d.problem.is_none());
    }

    #[test]
    fn a_truncated_gzip_keeps_its_prefix_and_says_so() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut raw = gzip(&data);
        raw.truncate(raw.len() / 2);
        let d = decode(raw, DEFAULT_CAP);
        assert_eq!(d.problem.as_ref().unwrap().0, Reason::CorruptCompression);
        assert!(!d.bytes.is_empty() && data.starts_with(&d.bytes));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let raw = gzip(&vec![b'a'; 10 << 20]);
        let d = decode(raw, 1 << 20);
        assert_eq!(d.bytes.len(), 1 << 20);
        assert_eq!(d.problem.unwrap().0, Reason::SizeCapExceeded);
    }

    /// What the streaming decoder alone yields, for comparison with `decode`.
    fn streamed(raw: &[u8], cap: u64) -> (Vec<u8>, Option<(Reason, String)>) {
        let d = read_capped(
            flate2::read::MultiGzDecoder::new(raw),
            cap,
            Compression::Gzip,
            raw.len(),
        );
        (d.bytes, d.problem)
    }

    #[test]
    fn one_member_takes_the_fast_path_with_the_same_bytes() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect();
        let raw = gzip(&data);
        assert_eq!(gunzip_single_member(&raw, DEFAULT_CAP).as_deref(), Some(&data[..]));
        let d = decode(raw.clone(), DEFAULT_CAP);
        assert_eq!((d.bytes, d.problem), streamed(&raw, DEFAULT_CAP));
    }

    #[test]
    fn anything_but_one_clean_member_goes_the_streaming_way() {
        let one = gzip(b"same content\n");
        // Two identical members: the first member's trailer also ends the file.
        let mut twice = one.clone();
        twice.extend(&one);
        let mut trailing = one.clone();
        trailing.extend(b"garbage!");
        let mut padded = one.clone();
        padded.extend([0u8; 16]);
        let mut bad_crc = one.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        let mut header_crc = one.clone();
        header_crc[3] |= 1 << 1;
        let mut truncated = gzip(&vec![b'x'; 100_000]);
        truncated.truncate(truncated.len() - 3);
        for raw in [twice, trailing, padded, bad_crc, header_crc, truncated, gzip(b"")] {
            assert_eq!(gunzip_single_member(&raw, DEFAULT_CAP), None);
            let d = decode(raw.clone(), DEFAULT_CAP);
            assert_eq!((d.bytes, d.problem), streamed(&raw, DEFAULT_CAP));
        }
        assert_eq!(decode(gzip(b"ab").repeat(2), DEFAULT_CAP).bytes, b"abab");
    }

    #[test]
    fn the_fast_path_leaves_the_cap_to_the_streaming_path() {
        let raw = gzip(&vec![b'a'; 4 << 20]);
        assert_eq!(gunzip_single_member(&raw, 1 << 20), None);
        assert!(gunzip_single_member(&raw, 4 << 20).is_some());
    }

    #[test]
    fn zstd_is_recognised_by_magic() {
        let raw = zstd::encode_all(&b"{\"a\":1}"[..], 3).unwrap();
        let d = decode(raw, DEFAULT_CAP);
        assert_eq!(d.compression, Compression::Zstd);
        assert_eq!(d.bytes, b"{\"a\":1}");
    }
}
