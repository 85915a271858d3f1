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
        let reader = flate2::read::MultiGzDecoder::new(&raw[..]);
        read_capped(reader, cap, Compression::Gzip, raw.len())
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

    #[test]
    fn zstd_is_recognised_by_magic() {
        let raw = zstd::encode_all(&b"{\"a\":1}"[..], 3).unwrap();
        let d = decode(raw, DEFAULT_CAP);
        assert_eq!(d.compression, Compression::Zstd);
        assert_eq!(d.bytes, b"{\"a\":1}");
    }
}
