//! Where a record was read: the evidence an analyst can open.

/// Index of an input file in the scan's sorted file list. Sorting the list before numbering makes
/// ids, and so output, independent of discovery order and thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A record's position: `line` is the 1-based line on which the record starts in the
/// decompressed file, `index` the 1-based ordinal of the record within that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: FileId,
    pub line: u64,
    pub index: u64,
}
