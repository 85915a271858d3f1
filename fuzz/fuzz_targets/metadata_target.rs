#![no_main]
//! Any text through the metadata target canonicaliser: no panic, and every target it reports is
//! found again when its canonical URL is canonicalised.

use credtrail_event::metadata::{canonical_target, find_targets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for target in find_targets(text) {
        let host = if target.endpoint.matches(':').count() > 1 {
            format!("[{}]", target.endpoint)
        } else {
            target.endpoint.clone()
        };
        let url = format!("http://{host}{}", target.path);
        assert!(canonical_target(&url, None).is_some(), "{url}");
    }
    let _ = canonical_target(text, Some(text));
});
