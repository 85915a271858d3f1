//! Framing JSON without parsing it: where each top-level value (or array element) starts and
//! ends, and on which line. Each record is then parsed on its own, so a corrupt record costs
//! only itself, a truncated file still yields the records before the cut, and evidence can cite
//! the line a record starts on.
//!
//! The scan is structural only (brackets and strings); the real parser validates each span.

/// A byte range of the buffer holding one JSON value, and the 1-based line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: u64,
}

/// A value that does not end: a truncated file or unbalanced brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unterminated {
    pub start: usize,
    pub line: u64,
}

impl Unterminated {
    /// The cut value as a span running to the end of `buf`: an array or wrapper cut short still
    /// yields the elements before the cut.
    pub fn through_end(self, buf: &[u8]) -> Span {
        Span {
            start: self.start,
            end: buf.len(),
            line: self.line,
        }
    }
}

/// A framed top-level value, or the cut one [through its end](Unterminated::through_end), and
/// whether it was cut.
pub fn span_or_cut(buf: &[u8], top: Result<Span, Unterminated>) -> (Span, bool) {
    match top {
        Ok(span) => (span, false),
        Err(cut) => (cut.through_end(buf), true),
    }
}

/// Counts lines incrementally as offsets advance (offsets must not go backwards).
#[derive(Debug, Clone)]
pub struct LineCounter<'a> {
    buf: &'a [u8],
    pos: usize,
    line: u64,
    /// No newline lies in `pos..next_newline`: offsets up to it need no counting (every record
    /// of a one-line CloudTrail file).
    next_newline: usize,
    /// Offsets below this count as this (see [`LineCounter::skip_to`]).
    floor: usize,
}

impl<'a> LineCounter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        LineCounter {
            buf,
            pos: 0,
            line: 1,
            next_newline: 0,
            floor: 0,
        }
    }

    pub fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.max(self.floor).min(self.buf.len());
        if offset > self.pos {
            if offset > self.next_newline {
                self.line += memchr::memchr_iter(b'\n', &self.buf[self.pos..offset]).count() as u64;
                self.next_newline = memchr::memchr(b'\n', &self.buf[offset..]).map_or(self.buf.len(), |k| offset + k);
            }
            self.pos = offset;
        }
        self.line
    }

    /// Leaves the counter as `line_at(offset)` would, counting only when a later call needs it.
    pub fn skip_to(&mut self, offset: usize) {
        self.floor = self.floor.max(offset);
    }

    /// The offset from which [`LineCounter::line_at`] answers exactly: an offset behind it gets
    /// the line of this one.
    pub fn exact_from(&self) -> usize {
        self.pos.max(self.floor)
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1e) // 0x1e: RFC 7464 JSON text sequences
}

/// Skips whitespace and a UTF-8 byte-order mark.
pub fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    if i == 0 && buf.starts_with(b"\xEF\xBB\xBF") {
        i = 3;
    }
    while i < buf.len() && is_ws(buf[i]) {
        i += 1;
    }
    i
}

/// The first `"` or `\\` in `s`. JSON strings in logs are mostly short, where a word at a time
/// beats `memchr2`'s per-call set-up; long ones go to `memchr2`.
#[inline(always)]
fn quote_or_backslash(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut k = 0;
    while k < 64 {
        let Some(Ok(word)) = s.get(k..k + 8).map(<[u8; 8]>::try_from) else {
            return s[k..].iter().position(|&b| b == b'"' || b == b'\\').map(|p| k + p);
        };
        let w = u64::from_le_bytes(word);
        let (q, b) = (w ^ (ONES * u64::from(b'"')), w ^ (ONES * u64::from(b'\\')));
        // High bit of each zero byte of `q` or `b`; the lowest one set is exact (borrows only
        // reach bytes above a zero byte).
        let hits = ((q.wrapping_sub(ONES) & !q) | (b.wrapping_sub(ONES) & !b)) & HIGHS;
        if hits != 0 {
            return Some(k + (hits.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    memchr::memchr2(b'"', b'\\', &s[k..]).map(|p| k + p)
}

/// Offset just past the string that opens at `i` (`buf[i] == b'"'`), or `None` if it never closes.
fn string_end(buf: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + quote_or_backslash(&buf[j..])?;
        if buf[k] == b'\\' {
            j = k + 2;
            if j > buf.len() {
                return None;
            }
        } else {
            return Some(k + 1);
        }
    }
}

/// Offset just past the JSON value starting at `i` (not whitespace), or `None` if it does not end
/// within the buffer. Scalars end at the next delimiter.
pub fn value_end(buf: &[u8], i: usize) -> Option<usize> {
    match buf.get(i)? {
        b'"' => string_end(buf, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < buf.len() {
                match buf[j] {
                    b'"' => {
                        j = string_end(buf, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < buf.len() && !is_ws(buf[j]) && !matches!(buf[j], b',' | b']' | b'}' | b'{' | b'[') {
                j += 1;
            }
            Some(j.max(i + 1))
        }
    }
}

/// Top-level values of a buffer holding one JSON document, concatenated documents, or JSON lines.
///
/// When the first value fits on one line the buffer is read as JSON lines, one value per line, so
/// that a corrupt line cannot swallow the lines after it. Otherwise values are framed by bracket
/// matching (pretty-printed documents).
pub fn top_level_values(buf: &[u8]) -> Vec<Result<Span, Unterminated>> {
    let first = skip_ws(buf, 0);
    if first >= buf.len() {
        return Vec::new();
    }
    frame_values(buf, first, value_end(buf, first))
}

/// The elements of a record array, framed while the first top-level value was framed so that
/// they need not be scanned again. `open` is the offset of the array's `[`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownArray {
    pub open: usize,
    pub elements: Vec<Result<Span, Unterminated>>,
}

/// [`top_level_values`], plus the elements of the first value's record array when the first value
/// is an array, or an object whose first `key` holds an array. The elements are exactly what
/// [`array_elements`] returns for that array: a CloudTrail file (`{"Records":[…]}` on one line) is
/// then scanned once instead of twice.
///
/// The first value's end is taken from the element walk only when the walk proves it equal to
/// bracket matching (well-formed keys, every element balanced, the array and object closed by
/// `]` and `}`); anything unusual falls back to [`value_end`].
pub fn top_level_values_with_array(buf: &[u8], key: &[u8]) -> (Vec<Result<Span, Unterminated>>, Option<KnownArray>) {
    let first = skip_ws(buf, 0);
    if first >= buf.len() {
        return (Vec::new(), None);
    }
    let (first_end, known) = match frame_first(buf, first, key) {
        Some((end, known)) => (Some(end), known),
        None => (value_end(buf, first), None),
    };
    (frame_values(buf, first, first_end), known)
}

fn frame_values(buf: &[u8], first: usize, first_end: Option<usize>) -> Vec<Result<Span, Unterminated>> {
    let mut out = Vec::new();
    let mut lines = LineCounter::new(buf);
    let one_line = first_end.is_some_and(|end| memchr::memchr(b'\n', &buf[first..end]).is_none())
        || json_lines_after_a_corrupt_first_line(buf, first);
    if one_line {
        out.extend(json_lines(buf, first).map(Ok));
        return out;
    }
    let mut i = first;
    let mut end = first_end;
    loop {
        let line = lines.line_at(i);
        match end {
            Some(end) => {
                out.push(Ok(Span { start: i, end, line }));
                i = skip_ws(buf, end);
            }
            None => {
                out.push(Err(Unterminated { start: i, line }));
                break;
            }
        }
        if i >= buf.len() {
            break;
        }
        end = value_end(buf, i);
    }
    out
}

/// The values of a buffer read as JSON lines from `first` (where [`skip_ws`] leaves the start of
/// the buffer): one span per non-blank line, without its surrounding whitespace, and its line.
/// This is how [`top_level_values`] frames a buffer whose first value fits on one line.
pub fn json_lines(buf: &[u8], first: usize) -> JsonLines<'_> {
    JsonLines {
        buf,
        start: first,
        lines: LineCounter::new(buf),
    }
}

/// Iterator of [`json_lines`].
#[derive(Debug, Clone)]
pub struct JsonLines<'a> {
    buf: &'a [u8],
    start: usize,
    lines: LineCounter<'a>,
}

impl Iterator for JsonLines<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        let buf = self.buf;
        while self.start < buf.len() {
            let start = self.start;
            let line_end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |k| start + k);
            let mut end = line_end;
            while end > start && is_ws(buf[end - 1]) {
                end -= 1;
            }
            self.start = skip_ws(buf, line_end);
            if end > start {
                return Some(Span {
                    start,
                    end,
                    line: self.lines.line_at(start),
                });
            }
        }
        None
    }
}

/// Whether the scalar `buf[start..end]` (as [`value_end`] frames a value that is not a string,
/// object or array) holds a byte that bracket matching would act on. Such a value makes the
/// element walk and bracket matching disagree, so [`frame_first`] gives up on it.
fn scalar_is_structural(buf: &[u8], start: usize, end: usize) -> bool {
    !matches!(buf[start], b'"' | b'{' | b'[')
        && buf[start..end]
            .iter()
            .any(|b| matches!(b, b'"' | b'{' | b'}' | b'[' | b']'))
}

/// The end of the value at `first` (as [`value_end`] would find it) and the elements of its record
/// array, from one walk over keys and elements; `None` when the walk cannot prove the two agree.
fn frame_first(buf: &[u8], first: usize, key: &[u8]) -> Option<(usize, Option<KnownArray>)> {
    let walk_array = |open: usize| -> Option<(usize, KnownArray)> {
        let (elements, close) = elements_until_close(buf, open, &mut LineCounter::new(buf));
        let close = close?;
        let clean = elements.iter().all(|e| match e {
            Ok(s) => !scalar_is_structural(buf, s.start, s.end),
            Err(_) => false,
        });
        clean.then(|| (close + 1, KnownArray { open, elements }))
    };
    match buf[first] {
        b'[' => walk_array(first).map(|(end, known)| (end, Some(known))),
        b'{' => {
            let mut known = None;
            let mut key_seen = false;
            let mut i = skip_ws(buf, first + 1);
            if buf.get(i) == Some(&b'}') {
                return Some((i + 1, None));
            }
            loop {
                if buf.get(i) != Some(&b'"') {
                    return None;
                }
                let key_end = string_end(buf, i)?;
                let this_key = &buf[i + 1..key_end - 1];
                let mut j = skip_ws(buf, key_end);
                if buf.get(j) != Some(&b':') {
                    return None;
                }
                j = skip_ws(buf, j + 1);
                let end = if !key_seen && this_key == key {
                    key_seen = true;
                    if buf.get(j) == Some(&b'[') {
                        let (end, array) = walk_array(j)?;
                        known = Some(array);
                        end
                    } else {
                        value_end(buf, j)?
                    }
                } else {
                    value_end(buf, j)?
                };
                if scalar_is_structural(buf, j, end) {
                    return None;
                }
                i = skip_ws(buf, end);
                match buf.get(i) {
                    Some(b',') => i = skip_ws(buf, i + 1),
                    Some(b'}') => return Some((i + 1, known)),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// JSON lines whose first line is corrupt (a writer died mid-record): the first value does not end
/// on its line, yet the next non-blank line holds exactly one complete object. Bracket matching
/// from the first line would run on through every later line and lose them all. A pretty-printed
/// document does not look like this: the lines after its first hold keys, opening brackets or
/// comma-separated elements, and a first line ending in an opening bracket is read as its start.
fn json_lines_after_a_corrupt_first_line(buf: &[u8], first: usize) -> bool {
    if buf[first] != b'{' {
        return false;
    }
    let Some(first_nl) = memchr::memchr(b'\n', &buf[first..]).map(|k| first + k) else {
        return false;
    };
    let mut last = first_nl;
    while last > first + 1 && is_ws(buf[last - 1]) {
        last -= 1;
    }
    if matches!(buf[last - 1], b'{' | b'[') {
        return false;
    }
    let next = skip_ws(buf, first_nl);
    if buf.get(next) != Some(&b'{') {
        return false;
    }
    let next_nl = memchr::memchr(b'\n', &buf[next..]).map_or(buf.len(), |k| next + k);
    value_end(&buf[..next_nl], next).is_some_and(|end| buf[end..next_nl].iter().all(|&b| is_ws(b)))
}

/// Elements of the array whose `[` is at `open`. Yields each element's span; an element that does
/// not end (truncated file) is yielded as `Unterminated` and ends the iteration.
pub fn array_elements(buf: &[u8], open: usize, lines: &mut LineCounter<'_>) -> Vec<Result<Span, Unterminated>> {
    elements_until_close(buf, open, lines).0
}

/// [`array_elements`], and the offset of the `]` that closed the array, if one did.
fn elements_until_close(
    buf: &[u8],
    open: usize,
    lines: &mut LineCounter<'_>,
) -> (Vec<Result<Span, Unterminated>>, Option<usize>) {
    let mut out = Vec::new();
    let mut i = skip_ws(buf, open + 1);
    if buf.get(i) == Some(&b']') {
        return (out, Some(i));
    }
    while i < buf.len() {
        let line = lines.line_at(i);
        let Some(end) = value_end(buf, i) else {
            out.push(Err(Unterminated { start: i, line }));
            return (out, None);
        };
        out.push(Ok(Span { start: i, end, line }));
        i = skip_ws(buf, end);
        match buf.get(i) {
            Some(b',') => i = skip_ws(buf, i + 1),
            Some(b']') => return (out, Some(i)),
            _ => {
                out.push(Err(Unterminated {
                    start: i.min(buf.len()),
                    line: lines.line_at(i),
                }));
                return (out, None);
            }
        }
    }
    (out, None)
}

/// Whether `head` opens an object whose first key is one of `keys`: the AWS CLI prints each
/// response's members in the order of the API's shape, so its first key names the call.
pub fn first_key_is(head: &[u8], keys: &[&str]) -> bool {
    let i = skip_ws(head, 0);
    if head.get(i) != Some(&b'{') {
        return false;
    }
    let j = skip_ws(head, i + 1);
    let Some(rest) = head.get(j..) else { return false };
    keys.iter().any(|k| {
        rest.strip_prefix(b"\"")
            .and_then(|r| r.strip_prefix(k.as_bytes()))
            .is_some_and(|r| r.starts_with(b"\""))
    })
}

/// Finds the value of a top-level key inside the object at `span`, scanning keys at depth 1 only
/// (a nested `"Records"` or `"detail"` is not the one wanted). Returns the value's span; when the
/// object is truncated, a value that starts but does not end gets `end == buf.len()`.
pub fn find_top_level_value(buf: &[u8], span: Span, key: &[u8]) -> Option<Span> {
    let start = find_top_level_value_start(buf, span, key)?;
    Some(Span {
        start,
        end: value_end(buf, start).unwrap_or(buf.len()),
        line: span.line,
    })
}

/// Where the value of `key` starts, as [`find_top_level_value`] finds it, without framing the value
/// itself (the values of the keys before it are framed to skip them).
fn find_top_level_value_start(buf: &[u8], span: Span, key: &[u8]) -> Option<usize> {
    if buf.get(span.start) != Some(&b'{') {
        return None;
    }
    let mut i = skip_ws(buf, span.start + 1);
    while i < span.end {
        if buf[i] != b'"' {
            return None;
        }
        let key_end = string_end(buf, i)?;
        let this_key = &buf[i + 1..key_end - 1];
        let mut j = skip_ws(buf, key_end);
        if buf.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(buf, j + 1);
        if this_key == key {
            return Some(j);
        }
        i = skip_ws(buf, value_end(buf, j)?);
        match buf.get(i) {
            Some(b',') => i = skip_ws(buf, i + 1),
            _ => return None,
        }
    }
    None
}

/// The offset of the `[` of a top-level array-valued key (`"Records"`).
pub fn find_top_level_array(buf: &[u8], span: Span, key: &[u8]) -> Option<usize> {
    find_top_level_value_start(buf, span, key).filter(|&start| buf.get(start) == Some(&b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(buf: &'a [u8], spans: &[Result<Span, Unterminated>]) -> Vec<(&'a str, u64)> {
        spans
            .iter()
            .map(|s| match s {
                Ok(s) => (std::str::from_utf8(&buf[s.start..s.end]).unwrap(), s.line),
                Err(u) => ("<unterminated>", u.line),
            })
            .collect()
    }

    #[test]
    fn json_lines_are_framed_per_line_so_a_bad_line_costs_only_itself() {
        let buf = b"{\"a\":1}\n{\"b\": [\n{\"c\":\"}\"}\n";
        let spans = top_level_values(buf);
        assert_eq!(
            texts(buf, &spans),
            [("{\"a\":1}", 1), ("{\"b\": [", 2), ("{\"c\":\"}\"}", 3)]
        );
    }

    #[test]
    fn bug_corrupt_first_json_line_hid_every_later_line() {
        // The first line was cut mid-record; bracket matching from it never ended, so the whole
        // file became one unterminated value and the good lines after it were lost.
        let buf = b"{\"a\":{\"b\":\"x\n{\"c\":1}\n{\"d\":\"}\"}\n";
        let spans = top_level_values(buf);
        assert_eq!(
            texts(buf, &spans),
            [("{\"a\":{\"b\":\"x", 1), ("{\"c\":1}", 2), ("{\"d\":\"}\"}", 3)]
        );
        // Pretty-printed documents are still framed by brackets, even when a line inside holds a
        // complete object.
        let buf = b"{\"Records\": [\n{\"a\":1}\n]}\n";
        assert_eq!(
            texts(buf, &top_level_values(buf)),
            [("{\"Records\": [\n{\"a\":1}\n]}", 1)]
        );
        let buf = b"{\n  \"a\": {\"b\": 1},\n  \"c\": 2\n}\n";
        assert_eq!(top_level_values(buf).len(), 1);
    }

    #[test]
    fn pretty_documents_are_framed_by_brackets_with_start_lines() {
        let buf = b"[\n  {\"a\": \"x]\"},\n  {\"b\": {\"c\": [1,2]}}\n]\n";
        let spans = top_level_values(buf);
        assert_eq!(spans.len(), 1);
        let top = spans[0].unwrap();
        let mut lines = LineCounter::new(buf);
        let elems = array_elements(buf, top.start, &mut lines);
        assert_eq!(
            texts(buf, &elems),
            [("{\"a\": \"x]\"}", 2), ("{\"b\": {\"c\": [1,2]}}", 3)]
        );
    }

    #[test]
    fn a_truncated_array_yields_the_complete_elements_then_stops() {
        let buf = b"{\"Records\":[{\"a\":1},{\"b\":2},{\"c\":";
        let span = Span {
            start: 0,
            end: buf.len(),
            line: 1,
        };
        let open = find_top_level_array(buf, span, b"Records").unwrap();
        let mut lines = LineCounter::new(buf);
        let elems = array_elements(buf, open, &mut lines);
        assert_eq!(
            texts(buf, &elems),
            [("{\"a\":1}", 1), ("{\"b\":2}", 1), ("<unterminated>", 1)]
        );
    }

    #[test]
    fn finds_records_after_other_keys_and_ignores_nested_ones() {
        let buf = br#"{"x":{"Records":[9]},"Records":[{"a":1}]}"#;
        let span = Span {
            start: 0,
            end: buf.len(),
            line: 1,
        };
        let open = find_top_level_array(buf, span, b"Records").unwrap();
        assert_eq!(&buf[open..open + 2], b"[{");
    }

    /// The framing as it was before the single-walk and word-at-a-time changes: the reference the
    /// faster code must match byte for byte.
    mod reference {
        use super::super::{is_ws, skip_ws, LineCounter, Span, Unterminated};

        fn string_end(buf: &[u8], i: usize) -> Option<usize> {
            let mut j = i + 1;
            loop {
                let k = j + memchr::memchr2(b'"', b'\\', &buf[j..])?;
                if buf[k] == b'\\' {
                    j = k + 2;
                    if j > buf.len() {
                        return None;
                    }
                } else {
                    return Some(k + 1);
                }
            }
        }

        pub fn value_end(buf: &[u8], i: usize) -> Option<usize> {
            match buf.get(i)? {
                b'"' => string_end(buf, i),
                b'{' | b'[' => {
                    let mut depth = 0usize;
                    let mut j = i;
                    while j < buf.len() {
                        match buf[j] {
                            b'"' => {
                                j = string_end(buf, j)?;
                                continue;
                            }
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    return Some(j + 1);
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    None
                }
                _ => {
                    let mut j = i;
                    while j < buf.len() && !is_ws(buf[j]) && !matches!(buf[j], b',' | b']' | b'}' | b'{' | b'[') {
                        j += 1;
                    }
                    Some(j.max(i + 1))
                }
            }
        }

        pub fn top_level_values(buf: &[u8]) -> Vec<Result<Span, Unterminated>> {
            let mut out = Vec::new();
            let mut lines = LineCounter::new(buf);
            let first = skip_ws(buf, 0);
            if first >= buf.len() {
                return out;
            }
            let first_end = value_end(buf, first);
            let one_line = first_end.is_some_and(|end| memchr::memchr(b'\n', &buf[first..end]).is_none())
                || super::super::json_lines_after_a_corrupt_first_line(buf, first);
            if one_line {
                let mut start = first;
                while start < buf.len() {
                    let line_end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |k| start + k);
                    let mut end = line_end;
                    while end > start && is_ws(buf[end - 1]) {
                        end -= 1;
                    }
                    if end > start {
                        out.push(Ok(Span {
                            start,
                            end,
                            line: 1 + memchr::memchr_iter(b'\n', &buf[..start]).count() as u64,
                        }));
                    }
                    start = skip_ws(buf, line_end);
                }
                return out;
            }
            let mut i = first;
            while i < buf.len() {
                let line = lines.line_at(i);
                match value_end(buf, i) {
                    Some(end) => {
                        out.push(Ok(Span { start: i, end, line }));
                        i = skip_ws(buf, end);
                    }
                    None => {
                        out.push(Err(Unterminated { start: i, line }));
                        break;
                    }
                }
            }
            out
        }
    }

    /// JSON-ish text: mostly structure, strings, escapes and the `Records` key, so that the
    /// framing's corner cases come up often.
    fn jsonish() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let token = prop_oneof![
            Just(&b"{"[..]),
            Just(&b"}"[..]),
            Just(&b"["[..]),
            Just(&b"]"[..]),
            Just(&b"\""[..]),
            Just(&b"\\"[..]),
            Just(&b","[..]),
            Just(&b":"[..]),
            Just(&b" "[..]),
            Just(&b"\n"[..]),
            Just(&b"1"[..]),
            Just(&b"ab"[..]),
            Just(&b"\"Records\":["[..]),
            Just(&b"\"x\":"[..]),
            Just(&b"{\"a\":\"b\\\"c\"}"[..]),
            Just(&b"\"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\""[..]),
        ];
        proptest::collection::vec(token, 0..60).prop_map(|t| t.concat())
    }

    proptest::proptest! {
        #[test]
        fn value_end_matches_the_reference(data in jsonish()) {
            for i in 0..data.len() {
                proptest::prop_assert_eq!(value_end(&data, i), reference::value_end(&data, i), "at {}", i);
            }
        }

        #[test]
        fn the_single_walk_frames_as_two_walks_did(data in jsonish()) {
            let (values, known) = top_level_values_with_array(&data, b"Records");
            proptest::prop_assert_eq!(&values, &reference::top_level_values(&data));
            proptest::prop_assert_eq!(&top_level_values(&data), &values);
            if let Some(known) = known {
                let first = values[0].unwrap();
                let open = match data[first.start] {
                    b'[' => Some(first.start),
                    _ => find_top_level_array(&data, first, b"Records"),
                };
                proptest::prop_assert_eq!(open, Some(known.open));
                let mut lines = LineCounter::new(&data);
                proptest::prop_assert_eq!(&known.elements, &array_elements(&data, known.open, &mut lines));
            }
        }

        #[test]
        fn lines_are_counted_whatever_the_steps(data in jsonish(), steps in proptest::collection::vec(0usize..40, 0..20)) {
            let mut lines = LineCounter::new(&data);
            let mut offset = 0;
            let mut furthest = 0;
            for (n, step) in steps.into_iter().enumerate() {
                offset += step;
                if n % 3 == 2 {
                    // Skipping ahead, and a later offset behind it, read as the old counter did.
                    lines.skip_to(offset + 7);
                    furthest = furthest.max(offset + 7);
                    continue;
                }
                furthest = furthest.max(offset);
                let expected = 1 + memchr::memchr_iter(b'\n', &data[..furthest.min(data.len())]).count() as u64;
                proptest::prop_assert_eq!(lines.line_at(offset), expected);
            }
        }

        #[test]
        fn framing_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for s in top_level_values(&data).into_iter().flatten() {
                let mut lines = LineCounter::new(&data);
                if data[s.start] == b'[' { let _ = array_elements(&data, s.start, &mut lines); }
                if data[s.start] == b'{' { let _ = find_top_level_array(&data, s, b"Records"); }
            }
        }
    }
}
