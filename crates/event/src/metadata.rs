//! Cloud instance metadata targets (MITRE ATT&CK T1552.005): one canonicaliser for every detector
//! that meets a URL or a host.
//!
//! SSRF in web and WAF logs, abused proxies (absolute-URI request lines, `Host:` headers) and host
//! telemetry must agree on what "a request to the metadata service" is, whatever disguise the
//! attacker picked, so the disguises are undone here, once:
//!
//! - IPv4 in any form a resolver accepts: decimal integer, octal, hex, mixed, short forms
//!   (`169.16689662`), overflowed integers (`7147006462`, truncating parsers);
//! - IPv6 that embeds the address: mapped, compatible, SIIT-translated, NAT64;
//! - Unicode that IDNA folds to ASCII: full-width digits and dots, enclosed alphanumerics,
//!   ideographic full stops, invisible characters;
//! - trailing dots, upper case, userinfo tricks, missing or backslashed `//`;
//! - DNS names that spell the address (`169.254.169.254.nip.io`, `a9fea9fe.rbndr.us`);
//! - percent-encoding to a fixed point, JSON `\u` escapes and HTML numeric entities (only in
//!   [`find_targets`], which reads free text).
//!
//! Two entry points:
//! - [`canonical_target`] when the caller knows where the target is (request target plus `Host`
//!   header, CONNECT authority, a URL field);
//! - [`find_targets`] when it may be anywhere in a query string, body, header or cookie value.
//!
//! Both return [`MetadataTarget`]s: provider, canonical endpoint, decoded path, grade, and the
//! list of disguises seen (the evidence an analyst reads first). No I/O, no clock, no
//! serialisation format.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use percent_encoding::percent_decode_str;
use unicode_normalization::UnicodeNormalization;

/// Who runs the metadata service a target reaches.
///
/// `169.254.169.254` is shared by AWS, GCP, Azure, Oracle, OpenStack and DigitalOcean; the path
/// tells them apart (`/computeMetadata` is GCP, `/metadata/v1` DigitalOcean, other `/metadata`
/// Azure, `/opc` Oracle, `/openstack` OpenStack). Anything else on that address, including no
/// path at all, is reported as [`MetadataProvider::Aws`], the most common target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetadataProvider {
    Aws,
    /// ECS task credentials and task metadata at `169.254.170.2`.
    AwsEcs,
    /// EKS Pod Identity agent at `169.254.170.23` / `fd00:ec2::23`.
    AwsEksPodIdentity,
    Gcp,
    Azure,
    /// Azure Arc-enabled servers: the hybrid instance metadata service on `localhost:40342`.
    AzureArc,
    Alibaba,
    Oracle,
    OpenStack,
    DigitalOcean,
    /// Equinix Metal (formerly Packet): `metadata.packet.net`, which CRS lists among SSRF targets.
    EquinixMetal,
}

impl MetadataProvider {
    /// Stable lower-case name for alert fields and suppressions.
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataProvider::Aws => "aws",
            MetadataProvider::AwsEcs => "aws-ecs",
            MetadataProvider::AwsEksPodIdentity => "aws-eks-pod-identity",
            MetadataProvider::Gcp => "gcp",
            MetadataProvider::Azure => "azure",
            MetadataProvider::AzureArc => "azure-arc",
            MetadataProvider::Alibaba => "alibaba",
            MetadataProvider::Oracle => "oracle",
            MetadataProvider::OpenStack => "openstack",
            MetadataProvider::DigitalOcean => "digitalocean",
            MetadataProvider::EquinixMetal => "equinix-metal",
        }
    }

    /// The cloud whose instances this endpoint serves, as alerts' `entities.cloud` names it: the
    /// AWS container endpoints are AWS, Azure Arc is Azure.
    pub fn cloud(self) -> &'static str {
        match self {
            MetadataProvider::Aws | MetadataProvider::AwsEcs | MetadataProvider::AwsEksPodIdentity => "aws",
            MetadataProvider::Gcp => "gcp",
            MetadataProvider::Azure | MetadataProvider::AzureArc => "azure",
            other => other.as_str(),
        }
    }
}

/// What a successful response to the request would hand over.
///
/// User data (`/latest/user-data`, Azure `userData`, OpenStack `user_data`, …) is graded
/// [`MetadataGrade::Credential`]: it is where bootstrap secrets end up, and reading it is the
/// "credentials in instance metadata" half of T1552.005; calling it recon would under-rate the
/// read that leaks a database password. GCP `instance/attributes/kube-env` is graded the same way
/// (it carries the kubelet's bootstrap credentials on GKE nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetadataGrade {
    /// Instance facts: ids, network, tags, the role name. A precursor, not yet a secret.
    Recon,
    /// Temporary credentials, identity tokens, keys or user data.
    Credential,
    /// The IMDSv2 session token (`PUT /latest/api/token`, also Alibaba's hardened mode): the
    /// step an SSRF needs before credentials when tokens are required.
    Token,
}

impl MetadataGrade {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataGrade::Recon => "recon",
            MetadataGrade::Credential => "credential",
            MetadataGrade::Token => "token",
        }
    }
}

/// One request aimed at a metadata service, after canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTarget {
    pub provider: MetadataProvider,
    /// Canonical endpoint: the address the request reaches (`169.254.169.254`, `fd00:ec2::254`)
    /// or the service's own name (`metadata.google.internal`, `instance-data`). Azure Arc, which
    /// is only told apart from any local web server by its port, is `127.0.0.1:40342`.
    pub endpoint: String,
    /// Decoded path: percent-decoding to a fixed point, `\` read as `/`, dot segments resolved,
    /// repeated slashes collapsed, query and fragment dropped. `/` when there was none.
    pub path: String,
    pub grade: MetadataGrade,
    /// How the target was disguised, in the order met; names are the constants in [`encoding`].
    /// Empty for a plain `http://169.254.169.254/…`.
    pub encodings: Vec<&'static str>,
}

/// Names of the disguises reported in [`MetadataTarget::encodings`].
pub mod encoding {
    /// The whole address as one number (`2852039166`, `0xA9FEA9FE`, `025177524776`).
    pub const IPV4_INTEGER: &str = "ipv4-integer";
    /// Two or three parts, the last filling the remaining bytes (`169.16689662`, `169.254.43518`).
    pub const IPV4_SHORT_FORM: &str = "ipv4-short-form";
    pub const IPV4_HEX: &str = "ipv4-hex";
    pub const IPV4_OCTAL: &str = "ipv4-octal";
    /// Values past the field width that truncating parsers wrap (`7147006462`, `425.510.425.510`).
    pub const IPV4_OVERFLOW: &str = "ipv4-overflow";
    pub const IPV4_MAPPED_IPV6: &str = "ipv4-mapped-ipv6";
    pub const IPV4_COMPATIBLE_IPV6: &str = "ipv4-compatible-ipv6";
    pub const IPV4_TRANSLATED_IPV6: &str = "ipv4-translated-ipv6";
    pub const NAT64_IPV6: &str = "nat64-ipv6";
    pub const IPV6_ZONE_ID: &str = "ipv6-zone-id";
    /// `0.0.0.0`, which reaches local listeners (Azure Arc) on Linux and macOS.
    pub const UNSPECIFIED_ADDRESS: &str = "unspecified-address";
    pub const FULLWIDTH: &str = "fullwidth";
    pub const ENCLOSED_ALPHANUMERIC: &str = "enclosed-alphanumeric";
    /// `。` or `｡` as label separator (IDNA maps them to `.`).
    pub const IDEOGRAPHIC_FULL_STOP: &str = "ideographic-full-stop";
    /// Other characters NFKC folds to ASCII (superscripts, mathematical digits).
    pub const UNICODE_COMPATIBILITY: &str = "unicode-compatibility";
    /// Soft hyphens, zero-width spaces and the like, which IDNA deletes.
    pub const INVISIBLE_CHARACTER: &str = "invisible-character";
    pub const TRAILING_DOT: &str = "trailing-dot";
    pub const UPPER_CASE: &str = "upper-case";
    /// The host follows an `@`: `http://allowed.example@169.254.169.254/`.
    pub const USERINFO: &str = "userinfo";
    /// A wildcard DNS service that resolves the name to the address it spells (`nip.io`, `sslip.io`).
    pub const WILDCARD_DNS: &str = "wildcard-dns";
    /// A DNS rebinding service (`rbndr.us`, `1u.ms`): the name resolves to the address only some of the time.
    pub const DNS_REBINDING: &str = "dns-rebinding";
    /// Another DNS name that spells a metadata address (an attacker's domain or a redirector).
    pub const EMBEDDED_ADDRESS: &str = "embedded-address";
    pub const PERCENT_ENCODED: &str = "percent-encoded";
    pub const DOUBLE_PERCENT_ENCODED: &str = "double-percent-encoded";
    pub const TRIPLE_PERCENT_ENCODED: &str = "triple-percent-encoded";
    pub const QUADRUPLE_PERCENT_ENCODED: &str = "quadruple-percent-encoded";
    /// Percent-encoding inside the host of a known target ([`super::canonical_target`]).
    pub const PERCENT_ENCODED_HOST: &str = "percent-encoded-host";
    /// Percent-encoding inside the path that was not undone with the surrounding text.
    pub const PERCENT_ENCODED_PATH: &str = "percent-encoded-path";
    pub const JSON_ESCAPE: &str = "json-escape";
    pub const HTML_ENTITY: &str = "html-entity";
    /// `\` instead of `/` after the scheme or in the path (WHATWG parsers accept both).
    pub const BACKSLASH: &str = "backslash";
    /// `.` or `..` path segments.
    pub const DOT_SEGMENTS: &str = "dot-segments";
    /// `http:2852039166` or `http:/2852039166`: WHATWG parsers add the missing slashes.
    pub const MISSING_SLASHES: &str = "missing-slashes";
    /// No scheme at all: `169.254.169.254/latest/meta-data`.
    pub const SCHEME_LESS: &str = "scheme-less";
    /// `//169.254.169.254/…`.
    pub const SCHEME_RELATIVE: &str = "scheme-relative";
    /// The request target named another host, the `Host` header the metadata service.
    pub const HOST_HEADER: &str = "host-header";
}

use encoding as enc;

const PERCENT_ROUNDS: [&str; 4] = [
    enc::PERCENT_ENCODED,
    enc::DOUBLE_PERCENT_ENCODED,
    enc::TRIPLE_PERCENT_ENCODED,
    enc::QUADRUPLE_PERCENT_ENCODED,
];
/// Percent-decoding stops at a fixed point or after this many rounds: deeper nesting is not seen
/// in the wild, and each round copies the text.
const MAX_PERCENT_ROUNDS: usize = PERCENT_ROUNDS.len();
/// Layers scanned: the text as found, up to four percent rounds, one JSON and one HTML round
/// (either may reveal more percent-encoding, which the unused percent rounds then undo).
const MAX_LAYERS: usize = MAX_PERCENT_ROUNDS + 3;
/// A longer run of host characters is not a host (DNS names stop at 253; Unicode forms are longer).
const MAX_HOST_LEN: usize = 512;
const MAX_PATH_LEN: usize = 2048;
/// How far back from an `@` to look for the `scheme://` its userinfo belongs to.
const MAX_USERINFO_LEN: usize = 512;

/// The metadata target named by a request target, URL or host.
///
/// `target` is a full URL (`http://169.254.169.254/latest/meta-data/`), an absolute-URI request
/// target (a proxy request), an authority (`169.254.169.254:80`, a CONNECT target; also with a
/// path and no scheme), or an origin-form path (`/latest/api/token`) whose host is `host_header`.
/// When an absolute URI names another host, the `Host` header is tried too with the URI's path:
/// proxies that route by `Host` are abused that way, and the result says [`encoding::HOST_HEADER`].
///
/// Every host form is accepted here, bare `metadata` included, because the caller vouches that
/// this is a host; only Azure Arc needs its port (`localhost` alone is any local server).
pub fn canonical_target(target: &str, host_header: Option<&str>) -> Option<MetadataTarget> {
    if !may_name_target(target) && !host_header.is_some_and(may_name_target) {
        return None;
    }
    known_target(target, host_header)
}

/// The metadata host a path alone names: paths only a metadata service serves, for logs that omit
/// the Host header (nginx `combined`); the proxy-abuse rule assumes that host for them.
/// Dated EC2 API versions (`/2009-04-04/meta-data/`) count as `/latest/`. Compared without
/// regard to ASCII case.
pub fn metadata_path_host(path: &str) -> Option<&'static str> {
    let p = path.as_bytes();
    // Every path below starts `/l`, `/c`, `/m`, `/o` or `/` and a digit: most paths are
    // turned down here, before a dozen comparisons (parsers ask this of every access-log line).
    if p.first() != Some(&b'/')
        || !p
            .get(1)
            .is_some_and(|c| matches!(c.to_ascii_lowercase(), b'l' | b'c' | b'm' | b'o' | b'0'..=b'9'))
    {
        return None;
    }
    let starts = |at: usize, prefix: &str| {
        p.get(at..at + prefix.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    const AWS: &[&str] = &[
        "/latest/meta-data",
        "/latest/api/token",
        "/latest/user-data",
        "/latest/dynamic/",
    ];
    if AWS.iter().any(|prefix| starts(0, prefix)) {
        return Some("169.254.169.254");
    }
    let dated = p.len() > 12
        && p[0] == b'/'
        && p[1..11].iter().enumerate().all(|(i, &b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && ["/meta-data", "/user-data", "/dynamic"]
            .iter()
            .any(|prefix| starts(11, prefix));
    if dated {
        return Some("169.254.169.254");
    }
    if starts(0, "/computemetadata/v1") {
        return Some("metadata.google.internal");
    }
    if [
        "/metadata/instance",
        "/metadata/identity/",
        "/opc/v1/",
        "/opc/v2/",
        "/openstack/latest",
    ]
    .iter()
    .any(|prefix| starts(0, prefix))
    {
        return Some("169.254.169.254");
    }
    None
}

/// [`canonical_target`] without the pre-filter.
fn known_target(target: &str, host_header: Option<&str>) -> Option<MetadataTarget> {
    let t = target.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return None;
    }
    if t.starts_with('/') || t.starts_with('\\') {
        // Origin form: the server is the Host header's. Some frameworks read `//host/path` as a
        // scheme-relative URL, so that reading is tried next.
        let header = host_header.and_then(|h| from_authority(h.trim(), t, Flags::default()));
        return header.or_else(|| {
            let rest = t.trim_start_matches(['/', '\\']);
            let slashes = t.len() - rest.len();
            if slashes != 2 {
                return None;
            }
            let mut flags = Flags::default();
            flags.add(enc::SCHEME_RELATIVE);
            url_rest(rest, flags)
        });
    }
    let mut flags = Flags::default();
    let (found, path) = match split_scheme(t) {
        Some((scheme, rest)) if rest.starts_with(['/', '\\']) || is_special_scheme(scheme) => {
            let after = rest.trim_start_matches(['/', '\\']);
            let slashes = &rest[..rest.len() - after.len()];
            if slashes.len() < 2 {
                flags.add(enc::MISSING_SLASHES);
            }
            if slashes.contains('\\') {
                flags.add(enc::BACKSLASH);
            }
            (url_rest(after, flags), url_path(after))
        }
        _ => {
            // Authority form, with or without a path.
            let end = t.find(['/', '\\']).unwrap_or(t.len());
            (from_authority(&t[..end], &t[end..], flags), &t[end..])
        }
    };
    found.or_else(|| {
        let mut flags = Flags::default();
        flags.add(enc::HOST_HEADER);
        from_authority(host_header?.trim(), path, flags)
    })
}

/// The header a provider's metadata service demands of every request, when `name: value` is one,
/// named as the provider documents it: GCP's `Metadata-Flavor: Google`
/// (https://cloud.google.com/compute/docs/metadata/querying-metadata), Azure IMDS's
/// `Metadata: true` (https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service),
/// AWS IMDSv2's `X-aws-ec2-metadata-token` and `X-aws-ec2-metadata-token-ttl-seconds`. A web
/// request that carries one was written for the metadata service, whatever it looks like.
pub fn required_header(name: &str, value: &str) -> Option<(MetadataProvider, &'static str)> {
    let name = name.trim();
    let value = value.trim();
    if name.eq_ignore_ascii_case("metadata-flavor") && value.eq_ignore_ascii_case("google") {
        Some((MetadataProvider::Gcp, "Metadata-Flavor: Google"))
    } else if name.eq_ignore_ascii_case("metadata") && value.eq_ignore_ascii_case("true") {
        Some((MetadataProvider::Azure, "Metadata: true"))
    } else if name.eq_ignore_ascii_case("x-aws-ec2-metadata-token-ttl-seconds") {
        Some((MetadataProvider::Aws, "X-aws-ec2-metadata-token-ttl-seconds"))
    } else if name.eq_ignore_ascii_case("x-aws-ec2-metadata-token") {
        Some((MetadataProvider::Aws, "X-aws-ec2-metadata-token"))
    } else {
        None
    }
}

/// Every metadata target in free text: a query string, a body (form, JSON, XML, multipart), a
/// header or cookie value, a command line.
///
/// The text is read as found, then percent-decoded round by round to a fixed point (at most four
/// rounds), then with JSON `\uXXXX` escapes and HTML numeric entities undone; each layer is
/// scanned for hosts, so URLs nested in query values, JSON strings, form fields and XML
/// attributes are all found, and the rounds it took are reported as encodings.
///
/// A host with a scheme (`scheme://`, `http:host`, userinfo after a scheme, `//host`) counts in
/// any form. Without one, text is full of numbers and words, so: a dotted quad (any base), an
/// IPv6 literal or a dotted name (`metadata.google.internal`, `169.254.169.254.nip.io`) counts
/// anywhere; an integer or short form (`2852039166`, `0xA9FEA9FE/latest`) where a value starts,
/// not inside a path; an overflowed integer or `instance-data` only where a value starts and a
/// path or port follows; bare `metadata` only before `/computeMetadata`; `localhost` only with
/// Azure Arc's port 40342.
///
/// Targets come out in the order met, the plainest layer first, each (provider, endpoint, path,
/// grade) once.
pub fn find_targets(text: &str) -> Vec<MetadataTarget> {
    if !may_contain_target(text) {
        return Vec::new();
    }
    scan_layers(text)
}

/// [`find_targets`] without the pre-filter.
fn scan_layers(text: &str) -> Vec<MetadataTarget> {
    let mut found = Vec::new();
    let mut layer: Cow<'_, str> = Cow::Borrowed(text);
    let mut flags = Flags::default();
    let mut percent_rounds = 0;
    for round in 0..MAX_LAYERS {
        // The last layer is read as final: nothing is left for a later layer to complete.
        let next = if round + 1 < MAX_LAYERS {
            decode_layer(&layer, percent_rounds < MAX_PERCENT_ROUNDS)
        } else {
            None
        };
        scan(&layer, next.as_ref().map(|(_, kind)| *kind), &flags, &mut found);
        let Some((decoded, kind)) = next else { break };
        match kind {
            Layer::Percent => {
                if let Some(previous) = percent_rounds.checked_sub(1).and_then(|i| PERCENT_ROUNDS.get(i)) {
                    flags.0.retain(|f| f != previous);
                }
                if let Some(name) = PERCENT_ROUNDS.get(percent_rounds) {
                    flags.add(name);
                }
                percent_rounds += 1;
            }
            Layer::Json => flags.add(enc::JSON_ESCAPE),
            Layer::Html => flags.add(enc::HTML_ENTITY),
        }
        layer = Cow::Owned(decoded);
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Pre-filter and decoding layers

/// Cheap rejection of text that cannot hold a target, for [`find_targets`]: a necessary
/// condition, never a sufficient one (text that passes is scanned in full).
///
/// [`find_targets`] scans the text and each layer decoded from it; a target in a layer needs a
/// host in that layer that [`examine`] lets through. Text with nothing to decode (no `%`,
/// `\` or `&`, the common case) is one layer and costs one pass over its bytes; otherwise the
/// layers are decoded as [`scan_layers`] decodes them and each is tested, which is still much
/// cheaper than lexing and canonicalising every run of each.
fn may_contain_target(text: &str) -> bool {
    let first = examine(text.as_bytes());
    if first.may_hold_host {
        return true;
    }
    if !first.may_escape {
        return false;
    }
    let mut layer: Cow<'_, str> = Cow::Borrowed(text);
    let mut percent_rounds = 0;
    // The layers after the first, as `scan_layers` decodes them.
    for _ in 1..MAX_LAYERS {
        let Some((decoded, kind)) = decode_layer(&layer, percent_rounds < MAX_PERCENT_ROUNDS) else {
            return false;
        };
        if kind == Layer::Percent {
            percent_rounds += 1;
        }
        if examine(decoded.as_bytes()).may_hold_host {
            return true;
        }
        layer = Cow::Owned(decoded);
    }
    false
}

/// The pre-filter of [`canonical_target`]: a host comes from a part of the target or of the
/// `Host` header, percent-decoded if it holds `%`, and must pass [`examine`] (a part's digit
/// runs are the whole string's: parts end at `@ : / \ ? #`); a loopback one needs port 40342,
/// which may have leading zeros there.
fn may_name_target(text: &str) -> bool {
    let seen = examine(text.as_bytes());
    seen.may_hold_host || seen.percent
}

/// Whether any part of `text` may hold a metadata target for [`find_targets`] or
/// [`canonical_target`]: the test a parser can put in front of building a record, so that one
/// whose fields cannot concern any detector is only counted.
///
/// It holds for every part `s` of `text` whose ends do not cut through a run of ASCII digits
/// (request-line fields split at spaces, `?`, `#`, `/`, `@`, `://`; quoted fields): if
/// `find_targets(s)` finds anything, or `canonical_target(s, h)` does with `h` also such a part,
/// then `may_concern(text)`. Why: without `%`, `\` or `&#` no part has a decoding layer
/// ([`decode_layer`] needs a `%XX`, a `\uXXXX` or an `&#`; [`examine`] notes those on its way),
/// so both functions need [`examine`] to pass on the part itself; and [`examine`] passing on a
/// part passes on the whole: each digit run of the part is a digit run of the whole (no end cuts
/// through one), each test on a run looks only at bytes around it that, where inside the part,
/// are the same bytes in the whole, and a service name or non-ASCII byte of the part is one of
/// the whole. `tests/prefilter_props.rs` checks it on the CRS corpus, every disguise and random
/// compositions. Paths that [`metadata_path_host`] reads as the metadata service are the
/// caller's own test.
pub fn may_concern(text: &str) -> bool {
    let seen = examine(text.as_bytes());
    seen.may_hold_host || seen.may_decode
}

/// What [`examine`] saw in one layer of text.
struct Examined {
    /// A host that may reach a metadata service.
    may_hold_host: bool,
    /// A `%`, `\` or `&`: a decoding layer may follow.
    may_escape: bool,
    /// A `%`, `\` or `&#`, which every decoding layer needs (looked for up to the first host).
    may_decode: bool,
    percent: bool,
}

/// Whether one layer of text can hold a host that [`identify`] maps to a metadata service (with
/// Azure Arc's port for loopback). Non-ASCII text always can (Unicode disguises). In ASCII, every
/// such host holds one of these:
///
/// - the service names `metadata…` and `instance-data…` (any case);
/// - a run of digits worth 40342 in decimal: every loopback form (`127.0.0.1`, `0`, `::1`,
///   `localhost`, names spelling them) is a target only with Azure Arc's port;
/// - `0x`: any IPv4 form with a hexadecimal part;
/// - a run of 10 or more digits that an IPv4 part reading (decimal, or octal after a `0`) takes
///   modulo 2^32 to a metadata address: the integer forms, each address being above 10^9;
/// - two digit runs joined by a dot, the first read as an IPv4 part up to 0xFFFF with the
///   address's first byte modulo 256, the second with the address's second byte modulo 256 (up
///   to 0xFFFF) or equal to its last three bytes (`169.16689662`): every dotted or short form in
///   decimal or octal, truncating parsers' overflow included; also the dotted quads of a name
///   (`169.254.169.254.nip.io`) and the dotted IPv4 tail of an IPv6 address (`::ffff:169.254.…`);
/// - a dashed quad as names embed it (`169-254-…`, `100-100-100-200`, `192-0-0-192`);
/// - the IPv6 groups `fd00` (the Nitro endpoints) or the high half of an IPv4 metadata address
///   (`a9fe`, `6464`, `c000`, any case): IPv6 literals embedding an address (mapped, compatible,
///   translated, NAT64; a group has at most 4 digits), the dashed IPv6 and 8-digit hex labels
///   that wildcard and rebinding DNS names carry.
///
/// The digit runs of a host are digit runs of the text (a host's neighbours are not digits), so
/// testing the whole text is testing every host in it. Ordinary log text (user agents, `Accept`
/// headers, paths with version numbers, most IPv4 addresses) holds none of these.
fn examine(b: &[u8]) -> Examined {
    let mut seen = Examined {
        may_hold_host: true,
        may_escape: false,
        may_decode: false,
        percent: false,
    };
    // The previous digit run: where it ended and its value as an IPv4 part.
    let mut previous: Option<(usize, Option<u64>)> = None;
    let mut i = 0;
    loop {
        // To the next byte that needs a look, eight bytes at a time.
        while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let marks = marked_bytes(u64::from_le_bytes(word));
            if marks != 0 {
                i += (marks.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        if b.len() - i < 8 {
            while i < b.len() && PREFILTER_BYTES[usize::from(b[i])] == 0 {
                i += 1;
            }
        }
        let Some(&c) = b.get(i) else { break };
        match PREFILTER_BYTES[usize::from(c)] {
            DIGIT => {
                let start = i;
                let end = b[start..]
                    .iter()
                    .position(|d| !d.is_ascii_digit())
                    .map_or(b.len(), |n| start + n);
                let value = ipv4_part_value(&b[start..end]);
                if digit_run_may_be_target(b, start, end, value) {
                    return seen;
                }
                if let (Some((previous_end, Some(first))), Some(second)) = (previous, value) {
                    if previous_end + 1 == start && b[previous_end] == b'.' && dotted_pair_may_be_target(first, second)
                    {
                        return seen;
                    }
                }
                previous = Some((end, value));
                i = end;
            }
            ESCAPE => {
                seen.may_escape = true;
                seen.percent |= c == b'%';
                seen.may_decode |= c != b'&' || b.get(i + 1) == Some(&b'#');
                i += 1;
            }
            LETTER_D if service_name_at(b, i) => return seen,
            NON_ASCII => return seen,
            _ => i += 1,
        }
    }
    seen.may_hold_host = false;
    seen
}

const DIGIT: u8 = 1;
const NON_ASCII: u8 = 2;
const LETTER_D: u8 = 3;
const ESCAPE: u8 = 4;

/// The bytes [`examine`] looks at: digits, non-ASCII, the `d` of `data`, escape starts.
static PREFILTER_BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = if b.is_ascii_digit() {
            DIGIT
        } else if b >= 0x80 {
            NON_ASCII
        } else if b == b'd' || b == b'D' {
            LETTER_D
        } else if b == b'%' || b == b'\\' || b == b'&' {
            ESCAPE
        } else {
            0
        };
        c += 1;
    }
    table
};

/// The bytes of eight (little-endian) that [`PREFILTER_BYTES`] marks, as their high bits: the
/// lowest is exact, higher ones may be false (bit tricks of
/// <https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord>, whose borrows only run
/// upwards).
fn marked_bytes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let equal = |c: u8| zero(x ^ (ONES * u64::from(c)));
    // Bytes strictly between 0x2F and 0x3A, the digits (exact for every byte).
    let low = x & (ONES * 0x7F);
    let digits = (ONES * (127 + 0x3A) - low) & !x & (low + ONES * (127 - 0x2F)) & HIGH;
    (x & HIGH)
        | digits
        | zero((x | (ONES * 0x20)) ^ (ONES * u64::from(b'd')))
        | equal(b'%')
        | equal(b'\\')
        | equal(b'&')
}

/// IPv4 metadata addresses (everything [`service_of_v4`] maps to a service other than loopback).
const METADATA_V4: [u32; 5] = [0xA9FE_A9FE, 0xA9FE_AA02, 0xA9FE_AA17, 0x6464_64C8, 0xC000_00C0];

/// The tests of [`examine`] on one maximal run of digits `b[start..end]`, whose IPv4 part
/// value is `value`.
fn digit_run_may_be_target(b: &[u8], start: usize, end: usize, value: Option<u64>) -> bool {
    let run = &b[start..end];
    let after = b.get(end).copied();
    let window = |from: usize, pattern: &[u8]| {
        b.get(from..from + pattern.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(pattern))
    };
    let before = |pattern: &[u8]| start >= 1 && window(start - 1, pattern);
    (run.len() >= 5 && decimal_value(run) == Some(40342))
        || (run.len() >= 10 && value.is_some_and(|v| METADATA_V4.contains(&(v as u32))))
        || (run.last() == Some(&b'0') && matches!(after, Some(b'x' | b'X')))
        || (run.len() >= 4 && run.windows(4).any(|w| w == b"6464"))
        || (start >= 1
            && match b[start - 1] | 0x20 {
                b'a' => before(b"a9fe"),
                b'c' => before(b"c000"),
                b'd' => start >= 2 && window(start - 2, b"fd00"),
                _ => false,
            })
        || (after == Some(b'-')
            && [&b"169-254-"[..], b"100-100-100-200", b"192-0-0-192"]
                .iter()
                .any(|quad| b[start..].starts_with(quad)))
}

/// A run of digits read as [`parse_ipv4_part`] reads it (decimal, or octal after a leading `0`);
/// `None` when that reading fails.
fn ipv4_part_value(run: &[u8]) -> Option<u64> {
    match run {
        [b'0', rest @ ..] if !rest.is_empty() => rest.iter().try_fold(0u64, |acc, &d| {
            let d = u64::from(d - b'0');
            if d >= 8 {
                return None;
            }
            acc.checked_mul(8)?.checked_add(d)
        }),
        _ => decimal_value(run),
    }
}

fn decimal_value(run: &[u8]) -> Option<u64> {
    run.iter()
        .try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Whether `first.second` can start an IPv4 form of a metadata address (see [`examine`]).
fn dotted_pair_may_be_target(first: u64, second: u64) -> bool {
    first <= 0xFFFF
        && METADATA_V4.iter().any(|&v| {
            let (a, b, tail) = (
                u64::from(v >> 24),
                u64::from((v >> 16) & 0xFF),
                u64::from(v & 0xFF_FFFF),
            );
            first % 256 == a && ((second <= 0xFFFF && second % 256 == b) || second == tail)
        })
}

/// `data` at `i`, the end of `metadata` or `instance-data` (any case).
fn service_name_at(b: &[u8], i: usize) -> bool {
    let before = |prefix: &[u8]| {
        i.checked_sub(prefix.len())
            .is_some_and(|from| b[from..i].eq_ignore_ascii_case(prefix))
    };
    b.get(i..i + 4).is_some_and(|w| w.eq_ignore_ascii_case(b"data")) && (before(b"meta") || before(b"instance-"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Percent,
    Json,
    Html,
}

fn decode_layer(s: &str, percent_allowed: bool) -> Option<(String, Layer)> {
    if percent_allowed && has_percent_escape(s.as_bytes()) {
        return Some((percent_decode_str(s).decode_utf8_lossy().into_owned(), Layer::Percent));
    }
    if let Some(d) = json_unescape(s) {
        return Some((d, Layer::Json));
    }
    html_unescape(s).map(|d| (d, Layer::Html))
}

fn has_percent_escape(b: &[u8]) -> bool {
    memchr::memchr_iter(b'%', b).any(|i| is_percent_escape_at(b, i))
}

fn is_percent_escape_at(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&b'%')
        && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
}

fn is_json_escape_at(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&b'\\')
        && b.get(i + 1) == Some(&b'u')
        && b.get(i + 2..i + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
}

/// `\uXXXX` (with surrogate pairs) to characters; other backslashes stay, since the scanner reads
/// `\/` as a slash anyway. `None` when there is nothing to undo.
fn json_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let first = memchr::memmem::find_iter(b, b"\\u").find(|&i| is_json_escape_at(b, i))?;
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    while i < b.len() {
        if is_json_escape_at(b, i) {
            let unit = hex_value(&b[i + 2..i + 6]);
            let mut width = 6;
            let c = if (0xD800..0xDC00).contains(&unit) && is_json_escape_at(b, i + 6) {
                let low = hex_value(&b[i + 8..i + 12]);
                if (0xDC00..0xE000).contains(&low) {
                    width = 12;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                } else {
                    None
                }
            } else {
                char::from_u32(unit)
            };
            out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
            i += width;
        } else {
            let next = memchr::memchr(b'\\', &b[i + 1..]).map_or(b.len(), |j| i + 1 + j);
            out.push_str(&s[i..next]);
            i = next;
        }
    }
    Some(out)
}

/// HTML numeric character references (`&#47;`, `&#x2F;`, with or without `;`).
fn html_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    memchr::memmem::find(b, b"&#")?;
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if let Some((c, width)) = html_reference_at(b, i) {
            out.push(c);
            i += width;
            changed = true;
        } else {
            let next = memchr::memchr(b'&', &b[i + 1..]).map_or(b.len(), |j| i + 1 + j);
            out.push_str(&s[i..next]);
            i = next;
        }
    }
    changed.then_some(out)
}

fn html_reference_at(b: &[u8], i: usize) -> Option<(char, usize)> {
    if b.get(i..i + 2)? != b"&#" {
        return None;
    }
    let (radix, start) = if matches!(b.get(i + 2), Some(b'x' | b'X')) {
        (16, i + 3)
    } else {
        (10, i + 2)
    };
    let digits = b[start..]
        .iter()
        .take(8)
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let text = std::str::from_utf8(&b[start..start + digits]).ok()?;
    let c = char::from_u32(u32::from_str_radix(text, radix).ok()?)?;
    let end = start + digits;
    let width = end - i + usize::from(b.get(end) == Some(&b';'));
    Some((c, width))
}

fn hex_value(h: &[u8]) -> u32 {
    h.iter()
        .fold(0, |acc, c| acc * 16 + (*c as char).to_digit(16).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Scanning free text

/// Where a host stands, which decides how much evidence it needs (see [`find_targets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The caller says this is a host ([`canonical_target`]).
    Explicit,
    /// After `scheme://`, `http:`, `//` or a userinfo `@`.
    Url,
    /// Anywhere else in text. `value_start`: not in the middle of a path.
    Bare { value_start: bool },
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Non-ASCII characters that can be part of a disguised host: what NFKC or IDNA folds into
/// digits, letters and dots, and what IDNA deletes. Other non-ASCII text separates runs.
fn is_unicode_host_char(c: char) -> bool {
    matches!(c,
        '\u{3002}' | '\u{FF61}' | '\u{FE52}' | '\u{2024}'
        | '\u{FF0D}' | '\u{FF0E}' | '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}'
        | '\u{2460}'..='\u{24FF}' | '\u{1F100}'..='\u{1F1FF}'
        | '\u{00B2}' | '\u{00B3}' | '\u{00B9}' | '\u{2070}'..='\u{209F}' | '\u{1D7CE}'..='\u{1D7FF}')
        || is_ignorable(c)
}

/// Characters IDNA maps to nothing (UTS #46 "ignored").
fn is_ignorable(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{180B}'..='\u{180D}' | '\u{200B}' | '\u{2060}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}')
}

fn is_run_char(c: char) -> bool {
    if c.is_ascii() {
        is_run_byte(c as u8)
    } else {
        is_unicode_host_char(c)
    }
}

/// One layer of text: lex every candidate host, with its port and path, and evaluate it.
fn scan(s: &str, next: Option<Layer>, layer_flags: &Flags, found: &mut Vec<MetadataTarget>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (host_start, host_end) = if c == b'[' {
            match bracket_end(b, i) {
                Some(end) => (i, end),
                None => {
                    i += 1;
                    continue;
                }
            }
        } else if c.is_ascii_hexdigit() || (c == b':' && b.get(i + 1) == Some(&b':')) {
            match bare_ipv6_end(s, i) {
                Some(end) => (i, end),
                None if c == b':' => {
                    i += 1;
                    continue;
                }
                None => (i, run_end(s, i)),
            }
        } else if c.is_ascii_alphanumeric() {
            (i, run_end(s, i))
        } else if c >= 0x80 {
            let ch = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
            if is_unicode_host_char(ch) {
                (i, run_end(s, i))
            } else {
                i += ch.len_utf8();
                continue;
            }
        } else {
            i += 1;
            continue;
        };
        // Hosts do not start with `-` or `.`; `--169.254.169.254` is a flag before an address.
        let trimmed = s[host_start..host_end].trim_start_matches(['-', '.']);
        let host_start = host_end - trimmed.len();
        let (port, port_end) = port_after(b, host_end);
        let has_path = matches!(b.get(port_end), Some(b'/' | b'\\'));
        // Scanning resumes after the host, so hosts in the path of another URL are seen
        // (`http://proxy.example/http://169.254.169.254/`); after a target, past its path.
        i = host_end.max(i + 1);
        if host_end - host_start > MAX_HOST_LEN || host_start == host_end || !worth_evaluating(&s[host_start..host_end])
        {
            continue;
        }
        // A host glued to an escape is incomplete here; the next layer sees it whole.
        if let Some(kind) = next {
            if escape_before(b, host_start, kind) || escape_at(b, port_end, kind) {
                continue;
            }
        }
        let mut host = &s[host_start..host_end];
        if !has_path && port.is_none() {
            // Sentence punctuation, not a trailing-dot disguise.
            host = host.trim_end_matches('.');
        }
        // The service first: the path and the context are only read for one.
        let mut host_flags = Flags::default();
        let Some((canon, service)) = identify(host, &mut host_flags) else {
            continue;
        };
        let mut flags = layer_flags.clone();
        let ctx = host_context(b, host_start, &mut flags);
        flags.extend(host_flags);
        let end = if has_path { path_end(s, port_end) } else { port_end };
        let path = has_path.then(|| &s[port_end..end]);
        if let Some(target) = decide(canon, service, port, path, ctx, flags) {
            let duplicate = found.iter().any(|f| {
                f.provider == target.provider
                    && f.grade == target.grade
                    && f.endpoint == target.endpoint
                    && f.path == target.path
            });
            if !duplicate {
                found.push(target);
            }
            i = end.max(i);
        }
    }
}

/// Cheap test before the real work: a run with no digit and no Unicode can only be one of the
/// service names (or a `*.localhost`-style alias).
fn worth_evaluating(run: &str) -> bool {
    let b = run.as_bytes();
    if b.iter().any(|c| c.is_ascii_digit() || !c.is_ascii()) {
        return true;
    }
    let name = run.strip_suffix('.').unwrap_or(run);
    NAMES.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        || LOOPBACK_SUFFIXES
            .iter()
            .any(|suffix| ends_with_ignore_case(name, suffix))
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn run_end(s: &str, start: usize) -> usize {
    s[start..]
        .char_indices()
        .find(|&(_, c)| !is_run_char(c))
        .map_or(s.len(), |(j, _)| start + j)
}

/// `[…]` holding something that may be an IPv6 literal; the end is past `]`.
fn bracket_end(b: &[u8], start: usize) -> Option<usize> {
    let limit = b.len().min(start + 1 + 128);
    let mut j = start + 1;
    while j < limit {
        match b[j] {
            b']' => return (j > start + 1).then_some(j + 1),
            c if c.is_ascii_alphanumeric() || matches!(c, b':' | b'.' | b'%' | b'-' | b'_') || c >= 0x80 => j += 1,
            _ => return None,
        }
    }
    None
}

/// An unbracketed IPv6 literal (`fd00:ec2::254`, `::ffff:169.254.169.254`) starting at `start`.
/// Bounded: the longest literal is 45 characters, and the scanner tries every `::`.
fn bare_ipv6_end(s: &str, start: usize) -> Option<usize> {
    const MAX_IPV6_LEN: usize = 64;
    let b = s.as_bytes();
    let mut end = start;
    while end < b.len() && (b[end].is_ascii_hexdigit() || b[end] == b':' || b[end] == b'.') {
        end += 1;
        if end - start > MAX_IPV6_LEN {
            return None;
        }
    }
    let body = &s[start..end];
    let colons = body.bytes().filter(|&c| c == b':').count();
    if colons < 2 || (colons < 7 && !body.contains("::")) {
        return None;
    }
    if b.get(end) == Some(&b'%') {
        end += 1;
        while end < b.len() && b[end].is_ascii_alphanumeric() {
            end += 1;
        }
    }
    if b.get(end).is_some_and(|&c| is_run_byte(c)) {
        return None;
    }
    body.trim_end_matches('.').parse::<Ipv6Addr>().ok().map(|_| end)
}

/// `:port` right after a host: one to five digits not followed by more host characters.
fn port_after(b: &[u8], host_end: usize) -> (Option<u16>, usize) {
    if b.get(host_end) != Some(&b':') {
        return (None, host_end);
    }
    let digits = b[host_end + 1..]
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || digits > 5 || b.get(host_end + 1 + digits).is_some_and(|&c| is_run_byte(c)) {
        return (None, host_end);
    }
    let port = b[host_end + 1..host_end + 1 + digits]
        .iter()
        .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
    match u16::try_from(port) {
        Ok(p) => (Some(p), host_end + 1 + digits),
        Err(_) => (None, host_end),
    }
}

fn path_end(s: &str, start: usize) -> usize {
    let b = s.as_bytes();
    let limit = b.len().min(start + MAX_PATH_LEN);
    let mut end = b[start..limit]
        .iter()
        .position(|&c| {
            c <= b' '
                || c == 0x7f
                || matches!(
                    c,
                    b'"' | b'\''
                        | b'<'
                        | b'>'
                        | b'?'
                        | b'#'
                        | b'&'
                        | b'`'
                        | b'{'
                        | b'}'
                        | b'|'
                        | b'^'
                        | b'['
                        | b']'
                        | b','
                        | b';'
                        | b'('
                        | b')'
                )
        })
        .map_or(limit, |j| start + j);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn escape_before(b: &[u8], at: usize, kind: Layer) -> bool {
    match kind {
        Layer::Percent => at >= 3 && is_percent_escape_at(b, at - 3),
        Layer::Json => at >= 6 && is_json_escape_at(b, at - 6),
        Layer::Html => b[at.saturating_sub(12)..at].windows(2).any(|w| w == b"&#"),
    }
}

fn escape_at(b: &[u8], at: usize, kind: Layer) -> bool {
    match kind {
        Layer::Percent => is_percent_escape_at(b, at),
        Layer::Json => is_json_escape_at(b, at),
        Layer::Html => html_reference_at(b, at).is_some(),
    }
}

/// Is the host at `start` the host of a URL? Looks back for `scheme://`, `scheme:` (special
/// schemes only: WHATWG parsers add the slashes), `//`, or a userinfo `@` after one of these.
fn host_context(b: &[u8], start: usize, flags: &mut Flags) -> Ctx {
    if start > 0 && b[start - 1] == b'@' {
        let floor = start.saturating_sub(MAX_USERINFO_LEN);
        let authority_start = b[floor..start - 1]
            .iter()
            .rposition(|&c| matches!(c, b'/' | b'\\' | b'"' | b'\'' | b'<' | b'>' | b'\n' | b'\r' | b'\t'))
            .map(|j| floor + j + 1);
        if let Some(authority_start) = authority_start {
            if matches!(b[authority_start - 1], b'/' | b'\\') {
                let mut outer = Flags::default();
                if slash_context(b, authority_start, &mut outer) == Ctx::Url {
                    flags.add(enc::USERINFO);
                    flags.extend(outer);
                    return Ctx::Url;
                }
            }
        }
        flags.add(enc::SCHEME_LESS);
        return Ctx::Bare { value_start: true };
    }
    let ctx = slash_context(b, start, flags);
    if let Ctx::Bare { .. } = ctx {
        flags.add(enc::SCHEME_LESS);
    }
    ctx
}

fn slash_context(b: &[u8], start: usize, flags: &mut Flags) -> Ctx {
    let mut j = start;
    while j > 0 && matches!(b[j - 1], b'/' | b'\\') && start - j < 8 {
        j -= 1;
    }
    let slashes = &b[j..start];
    let value_start = slashes.is_empty();
    if j > 0 && b[j - 1] == b':' {
        if let Some(scheme) = scheme_before(b, j - 1) {
            if slashes.len() >= 2 || is_special_scheme(scheme) {
                if slashes.len() < 2 {
                    flags.add(enc::MISSING_SLASHES);
                }
                if slashes == b"\\/\\/" {
                    flags.add(enc::JSON_ESCAPE);
                } else if slashes.contains(&b'\\') {
                    flags.add(enc::BACKSLASH);
                }
                return Ctx::Url;
            }
        }
        return Ctx::Bare { value_start };
    }
    if slashes.len() == 2 && (j == 0 || !is_run_byte(b[j - 1])) {
        flags.add(enc::SCHEME_RELATIVE);
        if slashes.contains(&b'\\') {
            flags.add(enc::BACKSLASH);
        }
        return Ctx::Url;
    }
    Ctx::Bare { value_start }
}

/// The URL scheme ending at the `:` at `colon`, if the bytes before it form one.
fn scheme_before(b: &[u8], colon: usize) -> Option<&str> {
    let mut k = colon;
    while k > 0 && (b[k - 1].is_ascii_alphanumeric() || matches!(b[k - 1], b'+' | b'-' | b'.')) {
        k -= 1;
    }
    // A scheme starts with a letter; skip leading digits and punctuation glued to it.
    while k < colon && !b[k].is_ascii_alphabetic() {
        k += 1;
    }
    (k < colon).then(|| std::str::from_utf8(&b[k..colon]).ok()).flatten()
}

/// Schemes whose URLs WHATWG parsers give an authority even without `//`.
fn is_special_scheme(scheme: &str) -> bool {
    ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

// ---------------------------------------------------------------------------------------------
// Known targets ([`canonical_target`])

fn split_scheme(t: &str) -> Option<(&str, &str)> {
    let colon = t.find(':')?;
    let scheme = &t[..colon];
    let mut bytes = scheme.bytes();
    let valid = bytes.next().is_some_and(|c| c.is_ascii_alphabetic())
        && bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    valid.then(|| (scheme, &t[colon + 1..]))
}

/// The path of a URL whose authority starts `rest`.
fn url_path(rest: &str) -> &str {
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let tail = &rest[end..];
    if tail.starts_with(['/', '\\']) {
        tail
    } else {
        ""
    }
}

/// A URL after `scheme://`: the WHATWG reading (authority ends at `/ \ ? #`, host after the last
/// `@`), then, if that is no target, the reading of parsers that end the authority only at a
/// slash (`http://allowed.example#@169.254.169.254/`).
fn url_rest(rest: &str, flags: Flags) -> Option<MetadataTarget> {
    let strict_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let strict = from_authority(&rest[..strict_end], url_path(rest), flags.clone());
    strict.or_else(|| {
        let loose_end = rest.find(['/', '\\']).unwrap_or(rest.len());
        let loose = &rest[..loose_end];
        if loose_end == strict_end || !loose[strict_end..].contains('@') {
            return None;
        }
        from_authority(loose, &rest[loose_end..], flags)
    })
}

/// `[userinfo@]host[:port]` plus the path that followed it.
fn from_authority(authority: &str, path: &str, mut flags: Flags) -> Option<MetadataTarget> {
    let hostport = match authority.rsplit_once('@') {
        Some((_, hostport)) => {
            flags.add(enc::USERINFO);
            hostport
        }
        None => authority,
    };
    let (host, port) = split_host_port(hostport)?;
    let mut host = Cow::Borrowed(host);
    for _ in 0..MAX_PERCENT_ROUNDS {
        if !has_percent_escape(host.as_bytes()) {
            break;
        }
        host = Cow::Owned(percent_decode_str(&host).decode_utf8_lossy().into_owned());
        flags.add(enc::PERCENT_ENCODED_HOST);
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    evaluate(&host, port, Some(path), Ctx::Explicit, flags)
}

/// Host and port; `None` when the port is not a port (WHATWG fails such URLs).
fn split_host_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let port = |p: &str| -> Option<Option<u16>> {
        if p.is_empty() {
            Some(None)
        } else if p.bytes().all(|c| c.is_ascii_digit()) {
            p.parse().ok().map(Some)
        } else {
            None
        }
    };
    if hostport.starts_with('[') {
        let close = hostport.find(']')?;
        let rest = &hostport[close + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            port(rest.strip_prefix(':')?)?
        };
        return Some((&hostport[..=close], port));
    }
    if hostport.matches(':').count() >= 2 {
        return Some((hostport, None));
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Some((host, port(p)?)),
        None => Some((hostport, None)),
    }
}

// ---------------------------------------------------------------------------------------------
// Host canonicalisation

/// Disguises met so far, each once, in order.
#[derive(Debug, Clone, Default)]
struct Flags(Vec<&'static str>);

impl Flags {
    fn add(&mut self, flag: &'static str) {
        if !self.0.contains(&flag) {
            self.0.push(flag);
        }
    }

    fn extend(&mut self, other: Flags) {
        for flag in other.0 {
            self.add(flag);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Addr {
    V4(u32),
    V6(Ipv6Addr),
    Name(String),
}

#[derive(Debug)]
struct Host {
    addr: Addr,
    strength: Strength,
}

/// How much a host form says on its own, without a scheme (see [`find_targets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    /// Unambiguous anywhere: a 4-part dotted address, IPv6, a dotted name.
    Strong,
    /// An integer or short form: it could be a number in text, but only one number in 2^32 is
    /// this address, so it counts where a value starts (not in the middle of a path).
    Exact,
    /// An overflowed number (one 64-bit value in 2^32 wraps to it: pointers, snowflake ids) or a
    /// single-label name that is also an English word: needs a value start and a path or port.
    Weak,
}

/// Undo the host disguises: Unicode folding, brackets and zone ids, trailing dot, case, every
/// IPv4 notation. `None` for what no resolver would take as a host.
fn canon_host(raw: &str, flags: &mut Flags) -> Option<Host> {
    let folded = if raw.is_ascii() {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(fold_unicode(raw, flags)?)
    };
    let s = folded.as_ref();
    if s.is_empty() || s.len() > MAX_HOST_LEN {
        return None;
    }
    if let Some(inner) = s.strip_prefix('[') {
        let addr = canon_ipv6(inner.strip_suffix(']')?, flags)?;
        return Some(Host {
            addr,
            strength: Strength::Strong,
        });
    }
    if s.contains(':') {
        let addr = canon_ipv6(s, flags)?;
        return Some(Host {
            addr,
            strength: Strength::Strong,
        });
    }
    let s = match s.strip_suffix('.') {
        Some(stripped) => {
            flags.add(enc::TRAILING_DOT);
            stripped
        }
        None => s,
    };
    if s.is_empty() || s.starts_with('.') || s.ends_with('.') || s.contains("..") {
        return None;
    }
    if ends_in_number(s) {
        if let Some(v4) = parse_ipv4(s, flags) {
            return Some(Host {
                addr: Addr::V4(v4.addr),
                strength: match (v4.overflow, v4.parts) {
                    (true, _) => Strength::Weak,
                    (false, 4) => Strength::Strong,
                    (false, _) => Strength::Exact,
                },
            });
        }
        // WHATWG fails such a host; a name that merely ends in digits may still spell an address
        // (`redir-http-169.254.169.254`), a numeric one is just wrong (`169.254.169.2540`).
        if s.bytes()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, b'.' | b'x' | b'X'))
        {
            return None;
        }
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        return None;
    }
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        flags.add(enc::UPPER_CASE);
    }
    let name = s.to_ascii_lowercase();
    let strength = if name.contains('.') {
        Strength::Strong
    } else {
        Strength::Weak
    };
    Some(Host {
        addr: Addr::Name(name),
        strength,
    })
}

/// What IDNA does to a host before DNS: delete ignorables, fold compatibility characters (NFKC),
/// read ideographic full stops as dots. `None` if anything non-ASCII is left.
fn fold_unicode(raw: &str, flags: &mut Flags) -> Option<String> {
    let mut pre = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\u{3002}' | '\u{FF61}' => {
                flags.add(enc::IDEOGRAPHIC_FULL_STOP);
                pre.push('.');
            }
            c if is_ignorable(c) => flags.add(enc::INVISIBLE_CHARACTER),
            '\u{FF01}'..='\u{FF5E}' => {
                flags.add(enc::FULLWIDTH);
                pre.push(c);
            }
            '\u{2460}'..='\u{24FF}' | '\u{1F100}'..='\u{1F1FF}' => {
                flags.add(enc::ENCLOSED_ALPHANUMERIC);
                pre.push(c);
            }
            c if c.is_ascii() => pre.push(c),
            c => {
                flags.add(enc::UNICODE_COMPATIBILITY);
                pre.push(c);
            }
        }
    }
    let folded: String = pre.nfkc().map(|c| if c == '\u{3002}' { '.' } else { c }).collect();
    folded.is_ascii().then_some(folded)
}

/// WHATWG "ends in a number": the last label is decimal digits or `0x` hex.
fn ends_in_number(s: &str) -> bool {
    let last = s.rsplit('.').next().unwrap_or(s);
    let b = last.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    b.len() >= 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' && b[2..].iter().all(u8::is_ascii_hexdigit)
}

struct V4 {
    addr: u32,
    parts: usize,
    overflow: bool,
}

/// IPv4 as `inet_aton` and WHATWG read it (1 to 4 parts, each decimal, `0`-octal or `0x`-hex, the
/// last filling the remaining bytes), plus two overflow readings of truncating parsers: a single
/// number up to 64 bits taken modulo 2^32, and four parts up to 16 bits each taken modulo 256.
fn parse_ipv4(s: &str, flags: &mut Flags) -> Option<V4> {
    let mut values = [0u64; 4];
    let mut parts = 0;
    let (mut hex, mut octal) = (false, false);
    for part in s.split('.') {
        if parts == 4 {
            return None;
        }
        let (value, radix) = parse_ipv4_part(part)?;
        hex |= radix == 16;
        octal |= radix == 8;
        values[parts] = value;
        parts += 1;
    }
    let mut overflow = false;
    let addr = match parts {
        1 => {
            overflow = values[0] > u64::from(u32::MAX);
            values[0] as u32
        }
        2 | 3 => {
            let last = values[parts - 1];
            if values[..parts - 1].iter().any(|&v| v > 255) || last >= 1u64 << (8 * (5 - parts)) {
                return None;
            }
            let head = values[..parts - 1].iter().fold(0u64, |acc, &v| (acc << 8) | v);
            ((head << (8 * (5 - parts))) | last) as u32
        }
        _ => {
            if values.iter().any(|&v| v > 0xFFFF) {
                return None;
            }
            overflow = values.iter().any(|&v| v > 255);
            values.iter().fold(0u32, |acc, &v| (acc << 8) | (v & 0xFF) as u32)
        }
    };
    match parts {
        1 => flags.add(enc::IPV4_INTEGER),
        2 | 3 => flags.add(enc::IPV4_SHORT_FORM),
        _ => {}
    }
    if hex {
        flags.add(enc::IPV4_HEX);
    }
    if octal {
        flags.add(enc::IPV4_OCTAL);
    }
    if overflow {
        flags.add(enc::IPV4_OVERFLOW);
    }
    Some(V4 { addr, parts, overflow })
}

fn parse_ipv4_part(part: &str) -> Option<(u64, u32)> {
    let b = part.as_bytes();
    let (digits, radix) = match b {
        [] => return None,
        [b'0', x, ..] if (x | 0x20) == b'x' => (&part[2..], 16),
        [b'0', _, ..] => (&part[1..], 8),
        _ => (part, 10),
    };
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some((0, radix));
    }
    u64::from_str_radix(significant, radix).ok().map(|v| (v, radix))
}

/// An IPv6 literal; addresses that carry an IPv4 address (mapped, compatible, SIIT, NAT64) are
/// read as that IPv4 address, since that is where the packets go.
fn canon_ipv6(s: &str, flags: &mut Flags) -> Option<Addr> {
    let s = match s.split_once('%') {
        Some((addr, _zone)) => {
            flags.add(enc::IPV6_ZONE_ID);
            addr
        }
        None => s,
    };
    let ip: Ipv6Addr = s.parse().ok()?;
    let seg = ip.segments();
    let low = (u32::from(seg[6]) << 16) | u32::from(seg[7]);
    let embedded = match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(enc::IPV4_MAPPED_IPV6),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(enc::IPV4_TRANSLATED_IPV6),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(enc::NAT64_IPV6),
        [0, 0, 0, 0, 0, 0, _, _] if low > 1 => Some(enc::IPV4_COMPATIBLE_IPV6),
        _ => None,
    };
    Some(match embedded {
        Some(flag) => {
            flags.add(flag);
            Addr::V4(low)
        }
        None => Addr::V6(ip),
    })
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/// A metadata service reached by an address or name; the path later picks the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// `169.254.169.254`, shared by most clouds.
    LinkLocal,
    /// `fd00:ec2::254`, the Nitro IPv6 IMDS endpoint.
    AwsV6,
    AwsName(&'static str),
    Ecs,
    EksPodIdentity(&'static str),
    GcpName(&'static str),
    Alibaba,
    /// `192.0.0.192`: Oracle's legacy metadata address.
    OracleLegacy,
    /// Any local listener: Azure Arc only with port 40342.
    Loopback,
    Equinix(&'static str),
}

impl Service {
    fn endpoint(self) -> &'static str {
        match self {
            Service::LinkLocal => "169.254.169.254",
            Service::AwsV6 => "fd00:ec2::254",
            Service::Ecs => "169.254.170.2",
            Service::Alibaba => "100.100.100.200",
            Service::OracleLegacy => "192.0.0.192",
            Service::Loopback => "127.0.0.1:40342",
            Service::AwsName(n) | Service::EksPodIdentity(n) | Service::GcpName(n) | Service::Equinix(n) => n,
        }
    }
}

const AZURE_ARC_PORT: u16 = 40342;

/// Service names, lower case, no trailing dot.
const NAMES: &[(&str, Service)] = &[
    ("instance-data", Service::AwsName("instance-data")),
    (
        "instance-data.ec2.internal",
        Service::AwsName("instance-data.ec2.internal"),
    ),
    ("metadata.google.internal", Service::GcpName("metadata.google.internal")),
    ("metadata.goog", Service::GcpName("metadata.goog")),
    ("metadata", Service::GcpName("metadata")),
    ("metadata.packet.net", Service::Equinix("metadata.packet.net")),
    (
        "metadata.platformequinix.com",
        Service::Equinix("metadata.platformequinix.com"),
    ),
    ("localhost", Service::Loopback),
    ("localhost.localdomain", Service::Loopback),
    ("localhost4", Service::Loopback),
    ("localhost4.localdomain4", Service::Loopback),
    ("localhost6", Service::Loopback),
    ("localhost6.localdomain6", Service::Loopback),
    ("ip6-localhost", Service::Loopback),
    ("ip6-loopback", Service::Loopback),
    ("localtest.me", Service::Loopback),
    ("lvh.me", Service::Loopback),
];

/// Names under these resolve to 127.0.0.1 (RFC 6761 `localhost`, public test domains).
const LOOPBACK_SUFFIXES: &[&str] = &[".localhost", ".localtest.me", ".lvh.me"];

/// DNS services that answer with the address a name spells (`a.b.c.d.nip.io`, `a-b-c-d.nip.io`,
/// hex `a9fea9fe.nip.io`, IPv6 `fd00-ec2--254.sslip.io`).
const WILDCARD_DNS: &[&str] = &["nip.io", "sslip.io", "xip.io", "xip.name", "traefik.me", "nip.direct"];
/// DNS rebinding services: `<hex>.<hex>.rbndr.us` answers with either address;
/// `make-<a>-rebind-<b>-rr.1u.ms` likewise.
const REBINDING_DNS: &[&str] = &["rbndr.us", "1u.ms"];

fn service_of_v4(addr: u32, flags: &mut Flags) -> Option<Service> {
    Some(match addr {
        0xA9FE_A9FE => Service::LinkLocal,
        0xA9FE_AA02 => Service::Ecs,
        0xA9FE_AA17 => Service::EksPodIdentity("169.254.170.23"),
        0x6464_64C8 => Service::Alibaba,
        0xC000_00C0 => Service::OracleLegacy,
        0x7F00_0001 => Service::Loopback,
        0 => {
            flags.add(enc::UNSPECIFIED_ADDRESS);
            Service::Loopback
        }
        _ => return None,
    })
}

fn service_of_v6(ip: Ipv6Addr) -> Option<Service> {
    match ip.segments() {
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] => Some(Service::AwsV6),
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23] => Some(Service::EksPodIdentity("fd00:ec2::23")),
        _ if ip == Ipv6Addr::LOCALHOST => Some(Service::Loopback),
        _ => None,
    }
}

fn service_of(addr: &Addr, flags: &mut Flags) -> Option<Service> {
    match addr {
        Addr::V4(a) => service_of_v4(*a, flags),
        Addr::V6(ip) => service_of_v6(*ip),
        Addr::Name(name) => {
            if let Some((_, service)) = NAMES.iter().find(|(n, _)| n == name) {
                return Some(*service);
            }
            if LOOPBACK_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                return Some(Service::Loopback);
            }
            embedded_service(name, flags)
        }
    }
}

/// A metadata address spelled inside a DNS name: a dotted or dashed quad anywhere (any domain:
/// such names exist to resolve or redirect there), and, under the wildcard and rebinding services
/// that decode them, 8-digit hex labels and dashed IPv6.
fn embedded_service(name: &str, flags: &mut Flags) -> Option<Service> {
    if name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa") {
        return None;
    }
    let under = |list: &[&str]| {
        list.iter()
            .any(|d| name.len() > d.len() && name.ends_with(d) && name.as_bytes()[name.len() - d.len() - 1] == b'.')
    };
    let flag = if under(WILDCARD_DNS) {
        enc::WILDCARD_DNS
    } else if under(REBINDING_DNS) {
        enc::DNS_REBINDING
    } else {
        enc::EMBEDDED_ADDRESS
    };
    let mut scratch = Flags::default();
    let mut candidates: Vec<Addr> = dotted_quads(name).into_iter().map(Addr::V4).collect();
    if flag != enc::EMBEDDED_ADDRESS {
        for label in name.split(['.', '-']) {
            if label.len() == 8 && label.bytes().all(|c| c.is_ascii_hexdigit()) {
                if let Ok(v) = u32::from_str_radix(label, 16) {
                    candidates.push(Addr::V4(v));
                }
            }
        }
        for label in name.split('.') {
            if label.contains("--") || label.matches('-').count() == 7 {
                if let Some(addr) = canon_ipv6(&label.replace('-', ":"), &mut scratch) {
                    candidates.push(addr);
                }
            }
        }
    }
    let services: Vec<Service> = candidates
        .iter()
        .filter_map(|a| match a {
            Addr::V4(v) => service_of_v4(*v, &mut scratch),
            Addr::V6(ip) => service_of_v6(*ip),
            Addr::Name(_) => None,
        })
        .collect();
    // A rebinding name alternates between its addresses: the metadata one matters, not the
    // loopback one it is paired with (which counts only for Azure Arc's port).
    let service = services
        .iter()
        .find(|s| **s != Service::Loopback)
        .or(services.first())
        .copied()?;
    flags.add(flag);
    Some(service)
}

/// Every run of four decimal octets joined by the same separator (`.` or `-`) in a name.
fn dotted_quads(name: &str) -> Vec<u32> {
    let mut parts: Vec<(&str, u8)> = Vec::new();
    let mut start = 0;
    for (i, c) in name.bytes().enumerate() {
        if c == b'.' || c == b'-' {
            parts.push((&name[start..i], c));
            start = i + 1;
        }
    }
    parts.push((&name[start..], 0));
    let octet = |p: &str| -> Option<u32> {
        let valid =
            !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()) && (p == "0" || !p.starts_with('0'));
        valid.then(|| p.parse::<u32>().ok()).flatten().filter(|&v| v <= 255)
    };
    parts
        .windows(4)
        .filter(|w| w[0].1 == w[1].1 && w[1].1 == w[2].1)
        .filter_map(|w| Some((octet(w[0].0)? << 24) | (octet(w[1].0)? << 16) | (octet(w[2].0)? << 8) | octet(w[3].0)?))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Paths and grades

/// Decode and normalise a path the way the client that sends it would (see [`MetadataTarget::path`]).
fn canonical_path(raw: &str, flags: &mut Flags) -> String {
    let mut s = Cow::Borrowed(raw);
    for _ in 0..MAX_PERCENT_ROUNDS {
        if !has_percent_escape(s.as_bytes()) {
            break;
        }
        s = Cow::Owned(percent_decode_str(&s).decode_utf8_lossy().into_owned());
        flags.add(enc::PERCENT_ENCODED_PATH);
    }
    let s = s
        .split(|c: char| c == '?' || c == '#' || c.is_ascii_whitespace() || c.is_ascii_control())
        .next()
        .unwrap_or("");
    if s.contains("\\/") {
        flags.add(enc::JSON_ESCAPE);
    } else if s.contains('\\') {
        flags.add(enc::BACKSLASH);
    }
    let mut segments: Vec<&str> = Vec::new();
    let raw_segments: Vec<&str> = s.split(['/', '\\']).collect();
    let trailing = raw_segments.len() > 1
        && raw_segments
            .last()
            .is_some_and(|l| l.is_empty() || *l == "." || *l == "..");
    for segment in raw_segments {
        match segment {
            "" => {}
            "." => flags.add(enc::DOT_SEGMENTS),
            ".." => {
                flags.add(enc::DOT_SEGMENTS);
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut path = String::with_capacity(s.len() + 1);
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    if trailing || segments.is_empty() {
        path.push('/');
    }
    path
}

fn starts_with(segments: &[String], prefix: &[&str]) -> bool {
    segments.len() >= prefix.len() && segments.iter().zip(prefix).all(|(s, p)| s == p)
}

fn is_user_data(segments: &[String]) -> bool {
    segments
        .iter()
        .any(|s| matches!(s.as_str(), "user-data" | "user_data" | "userdata"))
}

/// `latest`, `1.0` or a dated API version (`2021-07-15`) of the EC2-style API.
fn is_ec2_version(segment: &str) -> bool {
    let b = segment.as_bytes();
    segment == "latest"
        || segment == "1.0"
        || (b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            }))
}

/// The EC2-style API (AWS; also Alibaba, OpenStack and Oracle's legacy service): the token, the
/// credential directories given, user data.
fn ec2_grade(segments: &[String], credential_dirs: &[&[&str]]) -> MetadataGrade {
    if let Some((version, rest)) = segments.split_first() {
        if is_ec2_version(version) {
            if starts_with(rest, &["api", "token"]) {
                return MetadataGrade::Token;
            }
            if credential_dirs.iter().any(|dir| starts_with(rest, dir)) {
                return MetadataGrade::Credential;
            }
        }
    }
    other_grade(segments)
}

fn other_grade(segments: &[String]) -> MetadataGrade {
    if is_user_data(segments) {
        MetadataGrade::Credential
    } else {
        MetadataGrade::Recon
    }
}

const AWS_CREDENTIALS: &[&[&str]] = &[
    &["meta-data", "iam", "security-credentials"],
    &["meta-data", "identity-credentials"],
];
const ALIBABA_CREDENTIALS: &[&[&str]] = &[&["meta-data", "ram", "security-credentials"]];

fn gcp_grade(segments: &[String]) -> MetadataGrade {
    let get = |i: usize| segments.get(i).map(String::as_str);
    if get(0) == Some("computemetadata") && matches!(get(1), Some("v1" | "v1beta1")) {
        let rest = &segments[2..];
        if starts_with(rest, &["instance", "service-accounts"])
            && matches!(rest.get(3).map(String::as_str), Some("token" | "identity"))
        {
            return MetadataGrade::Credential;
        }
        if starts_with(rest, &["instance", "attributes", "kube-env"]) {
            return MetadataGrade::Credential;
        }
    }
    // The legacy v0.1 API handed out tokens without the Metadata-Flavor header.
    if starts_with(segments, &["0.1", "meta-data", "service-accounts"]) && get(4) == Some("acquire") {
        return MetadataGrade::Credential;
    }
    other_grade(segments)
}

fn azure_grade(segments: &[String]) -> MetadataGrade {
    if starts_with(segments, &["metadata", "identity", "oauth2", "token"]) {
        MetadataGrade::Credential
    } else {
        other_grade(segments)
    }
}

fn oracle_grade(segments: &[String]) -> MetadataGrade {
    let get = |i: usize| segments.get(i).map(String::as_str);
    if get(0) == Some("opc") && matches!(get(1), Some("v1" | "v2")) && get(2) == Some("identity") {
        MetadataGrade::Credential
    } else {
        ec2_grade(segments, AWS_CREDENTIALS)
    }
}

fn classify(service: Service, port: Option<u16>, path: &str) -> Option<(MetadataProvider, MetadataGrade)> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let first = segments.first().map(String::as_str);
    let second = segments.get(1).map(String::as_str);
    Some(match service {
        Service::LinkLocal => match first {
            Some("computemetadata" | "0.1") => (MetadataProvider::Gcp, gcp_grade(&segments)),
            Some("metadata") if second.is_some_and(|s| s == "v1" || s.starts_with("v1.")) => {
                (MetadataProvider::DigitalOcean, other_grade(&segments))
            }
            Some("metadata") => (MetadataProvider::Azure, azure_grade(&segments)),
            Some("opc") => (MetadataProvider::Oracle, oracle_grade(&segments)),
            Some("openstack") => (MetadataProvider::OpenStack, other_grade(&segments)),
            _ => (MetadataProvider::Aws, ec2_grade(&segments, AWS_CREDENTIALS)),
        },
        Service::AwsV6 | Service::AwsName(_) => (MetadataProvider::Aws, ec2_grade(&segments, AWS_CREDENTIALS)),
        Service::Ecs => {
            let grade = if starts_with(&segments, &["v2", "credentials"]) {
                MetadataGrade::Credential
            } else {
                MetadataGrade::Recon
            };
            (MetadataProvider::AwsEcs, grade)
        }
        Service::EksPodIdentity(_) => {
            let grade = if starts_with(&segments, &["v1", "credentials"]) {
                MetadataGrade::Credential
            } else {
                MetadataGrade::Recon
            };
            (MetadataProvider::AwsEksPodIdentity, grade)
        }
        Service::GcpName(_) => (MetadataProvider::Gcp, gcp_grade(&segments)),
        Service::Alibaba => (MetadataProvider::Alibaba, ec2_grade(&segments, ALIBABA_CREDENTIALS)),
        Service::OracleLegacy => (MetadataProvider::Oracle, oracle_grade(&segments)),
        Service::Loopback if port == Some(AZURE_ARC_PORT) => (MetadataProvider::AzureArc, azure_grade(&segments)),
        Service::Loopback => return None,
        Service::Equinix(_) => (MetadataProvider::EquinixMetal, other_grade(&segments)),
    })
}

/// Canonicalise one candidate and decide whether it is a target in its context.
fn evaluate(host: &str, port: Option<u16>, path: Option<&str>, ctx: Ctx, mut flags: Flags) -> Option<MetadataTarget> {
    let (canon, service) = identify(host, &mut flags)?;
    decide(canon, service, port, path, ctx, flags)
}

/// The metadata service a host reaches, if any.
fn identify(host: &str, flags: &mut Flags) -> Option<(Host, Service)> {
    let canon = canon_host(host, flags)?;
    let service = service_of(&canon.addr, flags)?;
    Some((canon, service))
}

/// Whether a host of a metadata service is a target in its context, and which.
fn decide(
    canon: Host,
    service: Service,
    port: Option<u16>,
    path: Option<&str>,
    ctx: Ctx,
    mut flags: Flags,
) -> Option<MetadataTarget> {
    let path = canonical_path(path.unwrap_or(""), &mut flags);
    let accepted = match ctx {
        Ctx::Explicit | Ctx::Url => true,
        Ctx::Bare { value_start } => match service {
            Service::Loopback => true, // the port decides, in `classify`
            Service::GcpName("metadata") => value_start && path.to_ascii_lowercase().starts_with("/computemetadata"),
            _ => match canon.strength {
                Strength::Strong => true,
                Strength::Exact => value_start,
                Strength::Weak => value_start && (port.is_some() || path.len() > 1),
            },
        },
    };
    if !accepted {
        return None;
    }
    let (provider, grade) = classify(service, port, &path)?;
    Some(MetadataTarget {
        provider,
        endpoint: service.endpoint().to_owned(),
        path,
        grade,
        encodings: flags.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_request_headers_name_their_provider() {
        assert_eq!(
            required_header("metadata-flavor", " Google").map(|h| h.0),
            Some(MetadataProvider::Gcp)
        );
        assert_eq!(required_header("Metadata", "true").map(|h| h.1), Some("Metadata: true"));
        assert_eq!(
            required_header("X-aws-ec2-metadata-token", "AQAE").map(|h| h.0),
            Some(MetadataProvider::Aws)
        );
        assert_eq!(required_header("Metadata", "false"), None);
        assert_eq!(required_header("Metadata-Flavor", "Amazon"), None);
    }

    fn one(text: &str) -> MetadataTarget {
        let found = find_targets(text);
        assert_eq!(found.len(), 1, "{text:?} → {found:#?}");
        found.into_iter().next().expect("one target")
    }

    fn none(text: &str) {
        let found = find_targets(text);
        assert!(found.is_empty(), "{text:?} → {found:#?}");
    }

    fn url(target: &str) -> MetadataTarget {
        canonical_target(target, None).unwrap_or_else(|| panic!("{target:?} is a target"))
    }

    fn imds(target: &MetadataTarget) {
        assert_eq!(target.endpoint, "169.254.169.254", "{target:?}");
    }

    #[test]
    fn plain_aws_urls_are_graded_by_path() {
        let t = url("http://169.254.169.254/latest/meta-data/iam/security-credentials/web-role");
        assert_eq!(
            t,
            MetadataTarget {
                provider: MetadataProvider::Aws,
                endpoint: "169.254.169.254".into(),
                path: "/latest/meta-data/iam/security-credentials/web-role".into(),
                grade: MetadataGrade::Credential,
                encodings: vec![],
            }
        );
        assert_eq!(
            url("http://169.254.169.254/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance")
                .grade,
            MetadataGrade::Credential
        );
        assert_eq!(
            url("http://169.254.169.254/latest/api/token").grade,
            MetadataGrade::Token
        );
        assert_eq!(
            url("http://169.254.169.254/latest/user-data").grade,
            MetadataGrade::Credential
        );
        assert_eq!(
            url("http://169.254.169.254/latest/meta-data/").grade,
            MetadataGrade::Recon
        );
        assert_eq!(
            url("http://169.254.169.254/2021-07-15/meta-data/iam/security-credentials/").grade,
            MetadataGrade::Credential
        );
        assert_eq!(url("http://169.254.169.254").path, "/");
        assert_eq!(url("http://169.254.169.254").provider, MetadataProvider::Aws);
    }

    #[test]
    fn every_endpoint_and_provider() {
        let cases: &[(&str, MetadataProvider, &str, MetadataGrade)] = &[
            ("http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/r", MetadataProvider::Aws, "fd00:ec2::254", MetadataGrade::Credential),
            ("http://instance-data/latest/meta-data/", MetadataProvider::Aws, "instance-data", MetadataGrade::Recon),
            ("http://instance-data.ec2.internal/latest/api/token", MetadataProvider::Aws, "instance-data.ec2.internal", MetadataGrade::Token),
            ("http://169.254.170.2/v2/credentials/0a1b2c", MetadataProvider::AwsEcs, "169.254.170.2", MetadataGrade::Credential),
            ("http://169.254.170.2/v2/metadata", MetadataProvider::AwsEcs, "169.254.170.2", MetadataGrade::Recon),
            ("http://169.254.170.23/v1/credentials", MetadataProvider::AwsEksPodIdentity, "169.254.170.23", MetadataGrade::Credential),
            ("http://[fd00:ec2::23]/v1/credentials", MetadataProvider::AwsEksPodIdentity, "fd00:ec2::23", MetadataGrade::Credential),
            ("http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token", MetadataProvider::Gcp, "metadata.google.internal", MetadataGrade::Credential),
            ("http://metadata.goog/computeMetadata/v1/instance/service-accounts/sa@p.iam.gserviceaccount.com/identity?audience=x", MetadataProvider::Gcp, "metadata.goog", MetadataGrade::Credential),
            ("http://metadata/computeMetadata/v1/project/project-id", MetadataProvider::Gcp, "metadata", MetadataGrade::Recon),
            ("http://metadata.google.internal/computeMetadata/v1/instance/attributes/kube-env", MetadataProvider::Gcp, "metadata.google.internal", MetadataGrade::Credential),
            ("http://169.254.169.254/computeMetadata/v1beta1/instance/service-accounts/default/token", MetadataProvider::Gcp, "169.254.169.254", MetadataGrade::Credential),
            ("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/", MetadataProvider::Azure, "169.254.169.254", MetadataGrade::Credential),
            ("http://169.254.169.254/metadata/instance?api-version=2021-02-01", MetadataProvider::Azure, "169.254.169.254", MetadataGrade::Recon),
            ("http://localhost:40342/metadata/identity/oauth2/token?api-version=2020-06-01", MetadataProvider::AzureArc, "127.0.0.1:40342", MetadataGrade::Credential),
            ("http://127.0.0.1:40342/metadata/instance", MetadataProvider::AzureArc, "127.0.0.1:40342", MetadataGrade::Recon),
            ("http://100.100.100.200/latest/meta-data/ram/security-credentials/role", MetadataProvider::Alibaba, "100.100.100.200", MetadataGrade::Credential),
            ("http://100.100.100.200/latest/api/token", MetadataProvider::Alibaba, "100.100.100.200", MetadataGrade::Token),
            ("http://100.100.100.200/latest/meta-data/instance-id", MetadataProvider::Alibaba, "100.100.100.200", MetadataGrade::Recon),
            ("http://169.254.169.254/opc/v2/identity/cert.pem", MetadataProvider::Oracle, "169.254.169.254", MetadataGrade::Credential),
            ("http://169.254.169.254/opc/v2/instance/", MetadataProvider::Oracle, "169.254.169.254", MetadataGrade::Recon),
            ("http://192.0.0.192/latest/user-data/", MetadataProvider::Oracle, "192.0.0.192", MetadataGrade::Credential),
            ("http://169.254.169.254/openstack/latest/meta_data.json", MetadataProvider::OpenStack, "169.254.169.254", MetadataGrade::Recon),
            ("http://169.254.169.254/openstack/latest/user_data", MetadataProvider::OpenStack, "169.254.169.254", MetadataGrade::Credential),
            ("http://169.254.169.254/metadata/v1/id", MetadataProvider::DigitalOcean, "169.254.169.254", MetadataGrade::Recon),
            ("http://169.254.169.254/metadata/v1.json", MetadataProvider::DigitalOcean, "169.254.169.254", MetadataGrade::Recon),
            ("https://metadata.packet.net/userdata", MetadataProvider::EquinixMetal, "metadata.packet.net", MetadataGrade::Credential),
        ];
        for (target, provider, endpoint, grade) in cases {
            let via_url = url(target);
            assert_eq!(
                (via_url.provider, via_url.endpoint.as_str(), via_url.grade),
                (*provider, *endpoint, *grade),
                "{target}"
            );
            let in_text = one(&format!("GET /fetch?u={target} HTTP/1.1"));
            assert_eq!(
                (in_text.provider, in_text.endpoint.as_str(), in_text.grade),
                (*provider, *endpoint, *grade),
                "{target} in text"
            );
        }
    }

    #[test]
    fn ipv4_disguises() {
        let cases: &[(&str, &[&str])] = &[
            ("http://2852039166/", &[enc::IPV4_INTEGER]),
            ("http://7147006462/", &[enc::IPV4_INTEGER, enc::IPV4_OVERFLOW]),
            ("http://0xA9FEA9FE/", &[enc::IPV4_INTEGER, enc::IPV4_HEX]),
            (
                "http://0x41414141A9FEA9FE/",
                &[enc::IPV4_INTEGER, enc::IPV4_HEX, enc::IPV4_OVERFLOW],
            ),
            ("http://025177524776/", &[enc::IPV4_INTEGER, enc::IPV4_OCTAL]),
            ("http://0251.0376.0251.0376/", &[enc::IPV4_OCTAL]),
            ("http://0251.00376.000251.0000376/", &[enc::IPV4_OCTAL]),
            ("http://0xa9.0xfe.0xa9.0xfe/", &[enc::IPV4_HEX]),
            ("http://0251.254.0xa9.254/", &[enc::IPV4_HEX, enc::IPV4_OCTAL]),
            ("http://169.16689662/", &[enc::IPV4_SHORT_FORM]),
            ("http://169.254.43518/", &[enc::IPV4_SHORT_FORM]),
            (
                "http://0xa9.0376.43518/",
                &[enc::IPV4_SHORT_FORM, enc::IPV4_HEX, enc::IPV4_OCTAL],
            ),
            ("http://425.510.425.510/", &[enc::IPV4_OVERFLOW]),
            ("http://169.254.169.254./", &[enc::TRAILING_DOT]),
        ];
        for (target, encodings) in cases {
            let t = url(target);
            imds(&t);
            assert_eq!(t.encodings, *encodings, "{target}");
            let found = one(&format!("x={target}"));
            imds(&found);
            assert_eq!(found.encodings, *encodings, "{target} in text");
        }
    }

    #[test]
    fn ipv6_disguises() {
        let cases: &[(&str, &str)] = &[
            ("http://[::ffff:169.254.169.254]/", enc::IPV4_MAPPED_IPV6),
            ("http://[::ffff:a9fe:a9fe]/", enc::IPV4_MAPPED_IPV6),
            ("http://[0:0:0:0:0:ffff:a9fe:a9fe]/", enc::IPV4_MAPPED_IPV6),
            ("http://[0:0:0:0:0:0:169.254.169.254]/", enc::IPV4_COMPATIBLE_IPV6),
            ("http://[64:ff9b::a9fe:a9fe]/", enc::NAT64_IPV6),
            ("http://[64:ff9b::169.254.169.254]/", enc::NAT64_IPV6),
            ("http://[::ffff:0:a9fe:a9fe]/", enc::IPV4_TRANSLATED_IPV6),
        ];
        for (target, flag) in cases {
            let t = url(target);
            imds(&t);
            assert!(t.encodings.contains(flag), "{target}: {t:?}");
            imds(&one(target));
        }
        let zoned = url("http://[fd00:ec2::254%25eth0]/latest/api/token");
        assert_eq!(
            (zoned.endpoint.as_str(), zoned.grade),
            ("fd00:ec2::254", MetadataGrade::Token)
        );
        assert!(zoned.encodings.contains(&enc::IPV6_ZONE_ID));
    }

    #[test]
    fn unicode_disguises() {
        let cases: &[(&str, &[&str])] = &[
            ("http://１６９．２５４．１６９．２５４/", &[enc::FULLWIDTH]),
            ("http://①⑥⑨.②⑤④.①⑥⑨.②⑤④/", &[enc::ENCLOSED_ALPHANUMERIC]),
            ("http://169。254。169。254/", &[enc::IDEOGRAPHIC_FULL_STOP]),
            ("http://169｡254｡169｡254/", &[enc::IDEOGRAPHIC_FULL_STOP]),
            (
                "http://⑯⑨。②⑤④。⑯⑨｡②⑤④",
                &[enc::ENCLOSED_ALPHANUMERIC, enc::IDEOGRAPHIC_FULL_STOP],
            ),
            (
                "http://⓪ⓧⓐ⑨ⓕⓔⓐ⑨ⓕⓔ",
                &[enc::ENCLOSED_ALPHANUMERIC, enc::IPV4_INTEGER, enc::IPV4_HEX],
            ),
            ("http://169.254.169.2\u{00AD}54/", &[enc::INVISIBLE_CHARACTER]),
            (
                "http://[::①⑥⑨｡②⑤④｡⑯⑨｡②⑤④]",
                &[
                    enc::ENCLOSED_ALPHANUMERIC,
                    enc::IDEOGRAPHIC_FULL_STOP,
                    enc::IPV4_COMPATIBLE_IPV6,
                ],
            ),
            (
                "http://ＭＥＴＡＤＡＴＡ.ＧＯＯＧＬＥ.ＩＮＴＥＲＮＡＬ/computeMetadata/v1/",
                &[enc::FULLWIDTH, enc::UPPER_CASE],
            ),
        ];
        for (target, encodings) in cases {
            let t = url(target);
            assert_eq!(t.encodings, *encodings, "{target}");
            let found = one(&format!("ssrf={target}"));
            assert_eq!(found.encodings, *encodings, "{target} in text");
        }
        let full = one("１６９．２５４．１６９．２５４");
        assert_eq!(full.encodings, [enc::SCHEME_LESS, enc::FULLWIDTH]);
    }

    #[test]
    fn names_case_and_rebinding() {
        let gcp = url("http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/");
        assert_eq!(
            (gcp.provider, gcp.endpoint.as_str()),
            (MetadataProvider::Gcp, "metadata.google.internal")
        );
        assert_eq!(gcp.encodings, [enc::TRAILING_DOT, enc::UPPER_CASE]);
        let cases: &[(&str, &str)] = &[
            ("http://169.254.169.254.nip.io/latest/", enc::WILDCARD_DNS),
            ("http://app.169.254.169.254.nip.io/latest/", enc::WILDCARD_DNS),
            ("http://169-254-169-254.sslip.io/latest/", enc::WILDCARD_DNS),
            ("http://magic-a9fea9fe.nip.io/latest/", enc::WILDCARD_DNS),
            ("http://a9fea9fe.nip.io/latest/", enc::WILDCARD_DNS),
            ("http://169.254.169.254.xip.io/latest/", enc::WILDCARD_DNS),
            ("http://a9fea9fe.7f000001.rbndr.us/latest/", enc::DNS_REBINDING),
            ("http://7f000001.a9fea9fe.rbndr.us/latest/", enc::DNS_REBINDING),
            (
                "http://make-1.2.3.4-rebind-169.254.169.254-rr.1u.ms/latest/",
                enc::DNS_REBINDING,
            ),
            ("http://169.254.169.254.attacker.example/latest/", enc::EMBEDDED_ADDRESS),
            ("http://nicob.net/redir-http-169.254.169.254:80-", enc::EMBEDDED_ADDRESS),
        ];
        for (target, flag) in cases {
            let found = one(target);
            imds(&found);
            assert!(found.encodings.contains(flag), "{target}: {found:?}");
        }
        let v6 = one("http://fd00-ec2--254.sslip.io/latest/api/token");
        assert_eq!(
            (v6.endpoint.as_str(), v6.grade),
            ("fd00:ec2::254", MetadataGrade::Token)
        );
    }

    #[test]
    fn url_structure_tricks() {
        let userinfo = url("http://google.com@169.254.169.254/latest/meta-data/");
        imds(&userinfo);
        assert_eq!(userinfo.encodings, [enc::USERINFO]);
        imds(&one("see http://google.com@169.254.169.254/latest/meta-data/"));
        imds(&url("http://google.com#@169.254.169.254/latest/"));
        imds(&one("u=http://google.com:80#@169.254.169.254/latest/"));
        assert_eq!(canonical_target("http://169.254.169.254@google.com/", None), None);
        let missing = url("http:2852039166/latest/api/token");
        assert_eq!(missing.grade, MetadataGrade::Token);
        assert_eq!(missing.encodings, [enc::MISSING_SLASHES, enc::IPV4_INTEGER]);
        assert_eq!(
            one("ssrf=http:/0xA9FEA9FE").encodings,
            [enc::MISSING_SLASHES, enc::IPV4_INTEGER, enc::IPV4_HEX]
        );
        let backslash = url("http:\\\\169.254.169.254\\latest\\meta-data\\iam\\security-credentials\\");
        assert_eq!(
            (backslash.path.as_str(), backslash.grade),
            ("/latest/meta-data/iam/security-credentials/", MetadataGrade::Credential)
        );
        let dots = url("http://169.254.169.254/foo/../latest/./meta-data//iam/security-credentials");
        assert_eq!(
            (dots.path.as_str(), dots.grade),
            ("/latest/meta-data/iam/security-credentials", MetadataGrade::Credential)
        );
        assert_eq!(dots.encodings, [enc::DOT_SEGMENTS]);
        let encoded = url("http://169.254.169.254/latest/meta-data/iam/security%2Dcredentials/x");
        assert_eq!(encoded.grade, MetadataGrade::Credential);
        assert_eq!(encoded.encodings, [enc::PERCENT_ENCODED_PATH]);
        let host = url("http://%31%36%39.254.169.254/latest/");
        assert_eq!(host.encodings, [enc::PERCENT_ENCODED_HOST]);
    }

    #[test]
    fn request_targets_and_host_headers() {
        let proxied = url("http://169.254.169.254:80/latest/api/token");
        assert_eq!(proxied.grade, MetadataGrade::Token);
        let origin = canonical_target("/latest/meta-data/iam/security-credentials/", Some("169.254.169.254"))
            .expect("host header");
        assert_eq!(origin.grade, MetadataGrade::Credential);
        assert!(origin.encodings.is_empty());
        let header =
            canonical_target("http://example.com/latest/api/token", Some("169.254.169.254:80")).expect("host header");
        assert_eq!(
            (header.grade, header.encodings.as_slice()),
            (MetadataGrade::Token, &[enc::HOST_HEADER][..])
        );
        assert_eq!(canonical_target("/latest/meta-data/", Some("example.com")), None);
        assert_eq!(canonical_target("/latest/meta-data/", None), None);
        assert_eq!(url("169.254.169.254:80").path, "/");
        assert_eq!(url("169.254.169.254/latest/user-data").grade, MetadataGrade::Credential);
        assert_eq!(url("metadata").provider, MetadataProvider::Gcp);
        assert_eq!(url("fd00:ec2::254").endpoint, "fd00:ec2::254");
        assert_eq!(url("[::ffff:a9fe:a9fe]:80").endpoint, "169.254.169.254");
        assert_eq!(url("localhost:40342").provider, MetadataProvider::AzureArc);
        assert_eq!(
            url("http://0.0.0.0:40342/metadata/identity/oauth2/token").grade,
            MetadataGrade::Credential
        );
        assert_eq!(canonical_target("localhost", None), None);
        assert_eq!(
            canonical_target("http://localhost:8080/metadata/identity/oauth2/token", None),
            None
        );
        let relative =
            canonical_target("//169.254.169.254/latest/meta-data/", Some("shop.example")).expect("scheme-relative");
        assert_eq!(relative.encodings, [enc::SCHEME_RELATIVE]);
    }

    #[test]
    fn free_text_layers_and_nesting() {
        let once =
            one("/get/test?ssrf=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F");
        assert_eq!(
            (once.grade, once.encodings.as_slice()),
            (MetadataGrade::Credential, &[enc::PERCENT_ENCODED][..])
        );
        let twice = one("u=http%253A%252F%252F169.254.169.254%252Flatest%252Fapi%252Ftoken");
        assert_eq!(
            (twice.grade, twice.encodings.as_slice()),
            (MetadataGrade::Token, &[enc::DOUBLE_PERCENT_ENCODED][..])
        );
        let four = one("u=http%2525253A%2525252F%2525252F169.254.169.254");
        assert_eq!(four.encodings, [enc::QUADRUPLE_PERCENT_ENCODED]);
        // Past the last round, what is left is read as it is.
        let five = one("u=http%2525253A%2525252F%2525252F169.254.169.254%252525252Flatest");
        assert_eq!(
            (five.path.as_str(), five.encodings.as_slice()),
            ("/", &[enc::QUADRUPLE_PERCENT_ENCODED][..])
        );
        let json = one(r#"{"webhook":"http:\/\/169.254.169.254\/latest\/meta-data\/iam\/security-credentials\/"}"#);
        assert_eq!(
            (json.grade, json.path.as_str()),
            (MetadataGrade::Credential, "/latest/meta-data/iam/security-credentials/")
        );
        assert!(json.encodings.contains(&enc::JSON_ESCAPE));
        let unicode = one(r#"{"u":"http:\u002f\u002f169.254.169.254\u002flatest\u002fapi\u002ftoken"}"#);
        assert_eq!(
            (unicode.grade, unicode.encodings.as_slice()),
            (MetadataGrade::Token, &[enc::JSON_ESCAPE][..])
        );
        let html = one("<a href=\"http&#58;&#47;&#47;169.254.169.254&#x2f;latest\">");
        assert_eq!(html.encodings, [enc::HTML_ENTITY]);
        let nested = one("https://shop.example/img?src=https%3A%2F%2Fproxy.example%2F%3Furl%3Dhttp%253A%252F%252F2852039166%252Flatest%252Fuser-data");
        assert_eq!(nested.grade, MetadataGrade::Credential);
        assert_eq!(nested.encodings, [enc::DOUBLE_PERCENT_ENCODED, enc::IPV4_INTEGER]);
        let form = one("name=x&url=169.254.169.254%2Flatest%2Fmeta-data&submit=1");
        assert_eq!(
            (form.path.as_str(), form.encodings.as_slice()),
            ("/latest/meta-data", &[enc::PERCENT_ENCODED, enc::SCHEME_LESS][..])
        );
        let xml =
            one("<?xml version=\"1.0\"?><root><a probe=\"http://169.254.169.254/computeMetadata/v1/\"></a></root>");
        assert_eq!(xml.provider, MetadataProvider::Gcp);
        let multipart = one("Content-Disposition: form-data; name=\"file\"; filename=\"http://2852039166/?.txt\"");
        imds(&multipart);
        let cookie = one("session=abc; next=http://instance-data/latest/meta-data/iam/security-credentials/");
        assert_eq!(cookie.grade, MetadataGrade::Credential);
        let two = find_targets("a=http://169.254.169.254/latest/api/token&b=http://169.254.169.254/latest/meta-data/iam/security-credentials/r");
        assert_eq!(
            two.iter().map(|t| t.grade).collect::<Vec<_>>(),
            [MetadataGrade::Token, MetadataGrade::Credential]
        );
        let curl = one("curl -s -H 'X-aws-ec2-metadata-token: t' http://169.254.169.254/latest/meta-data/iam/security-credentials/");
        assert_eq!(curl.grade, MetadataGrade::Credential);
    }

    #[test]
    fn scheme_less_hosts() {
        let plain = one("169.254.169.254/latest/meta-data");
        assert_eq!(
            (plain.path.as_str(), plain.encodings.as_slice()),
            ("/latest/meta-data", &[enc::SCHEME_LESS][..])
        );
        assert_eq!(
            one("0xA9FEA9FE/latest").encodings,
            [enc::SCHEME_LESS, enc::IPV4_INTEGER, enc::IPV4_HEX]
        );
        assert_eq!(one("url=2852039166/latest/api/token").grade, MetadataGrade::Token);
        assert_eq!(one("host=instance-data:80").endpoint, "instance-data");
        assert_eq!(
            one("metadata/computeMetadata/v1/instance/service-accounts/default/token").grade,
            MetadataGrade::Credential
        );
        assert_eq!(one("fd00:ec2::254").endpoint, "fd00:ec2::254");
        imds(&one("[::ffff:a9fe:a9fe]"));
        imds(&one("the address is 169.254.169.254."));
        assert_eq!(one("connect localhost:40342").provider, MetadataProvider::AzureArc);
        assert_eq!(one("metadata.google.internal").endpoint, "metadata.google.internal");
        assert_eq!(one("--url 169.254.169.254").endpoint, "169.254.169.254");
        // Integers and short forms count where a value starts, not inside a path.
        assert_eq!(one("id=2852039166").encodings, [enc::SCHEME_LESS, enc::IPV4_INTEGER]);
        imds(&one("v=169.16689662"));
        none("/api/items/2852039166/latest");
        // Overflowed numbers and single-label names also need a path or port.
        none("ptr=0x41414141A9FEA9FE");
        none("id=7147006462");
        none("type=instance-data");
        imds(&one("id=7147006462/latest"));
        none("/docs/instance-data/latest");
        none("see metadata/README");
    }

    #[test]
    fn non_targets() {
        for text in [
            "http://169.254.169.25/latest/meta-data/",
            "http://169.254.169.2540/latest/meta-data/",
            "169.254.169.2540",
            "http://metadata.example.com/computeMetadata/v1/",
            "the metadata of the object lists its owner",
            "Metadata: instance-data is described in the docs",
            "http://127.0.0.1:8081/hook",
            "http://10.0.0.1/latest/meta-data/",
            "http://localhost/metadata/identity/oauth2/token",
            "http://169.254.169.254.1/",
            "http://1169.254.169.254/",
            "http://[::1]:8080/",
            "http://0xA9.0xFE.0xA9/",
            "http:0xABCDEF",
            "254.169.254.169.in-addr.arpa",
            "192.0.0.192.in-addr.arpa",
            "2024-01-01T12:00:00Z 10.1.2.3 GET /index.html 200 1234",
            "",
        ] {
            none(text);
            if let Some(t) = canonical_target(text, None) {
                panic!("{text:?} → {t:?}");
            }
        }
    }

    #[test]
    fn prefilter_is_sound_for_plain_forms() {
        assert!(!may_contain_target("the quick brown fox"));
        assert!(may_contain_target("see http://METADATA/computeMetadata"));
        assert!(may_contain_target("INSTANCE-DATA/latest"));
        assert!(may_contain_target("①"));
        for text in [
            "169.254.169.254",
            "0251.0376.0251.0376",
            "425.510.425.510",
            "169.16689662",
            "169.254.43518",
            "100.100.100.200",
            "192.0.0.192",
            "192.192",
            "2852039166",
            "7147006462",
            "025177524776",
            "0xA9FEA9FE",
            "0xa9.254.169.254",
            "[::ffff:a9fe:a9fe]",
            "[::FFFF:169.254.169.254]",
            "[64:ff9b::6464:64c8]",
            "[::c000:c0]",
            "[fd00:ec2::254]",
            "169-254-169-254.nip.io",
            "a9fea9fe.01020304.rbndr.us",
            "localhost:40342",
            "%31%36%39.254.169.254",
            "http%3A%2F%2F169%2E254%2E169%2E254",
            "%2531%2536%2539.254.169.254",
            "\\u0031\\u0036\\u0039.254.169.254",
            "&#49;&#54;&#57;.254.169.254",
            "localhost:040342",
        ] {
            assert!(may_contain_target(text), "{text}");
        }
    }

    /// What the pre-filter is for: ordinary log fields are rejected without scanning.
    #[test]
    fn prefilter_rejects_ordinary_log_text() {
        for text in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "en-US,en;q=0.9",
            "/static/css/main.e8b07485.css",
            "/images/products/5404.webp",
            "/api/v1/cart",
            "page=2&sort=price&_=1700000000000",
            "https://shop.northwind.example/",
            "203.0.113.9, 10.0.0.7, 192.168.1.20",
            "ELB-HealthChecker/2.0",
            "q=espresso%20machine&page=1",
            "template_url=https%3A%2F%2Fcdn.northwind.example%2Ftemplates%2Fpromo-26.html",
            "id=1%27%20OR%20%271%27%3D%271",
        ] {
            assert!(!may_contain_target(text), "{text}");
        }
    }

    #[test]
    fn prefilter_addresses_are_the_ipv4_services() {
        for v in METADATA_V4 {
            let service = service_of_v4(v, &mut Flags::default());
            assert!(service.is_some_and(|s| s != Service::Loopback), "{v:#x}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// Every address that is not in `METADATA_V4` is no service, or loopback (a target only
        /// with port 40342, which the pre-filter requires).
        #[test]
        fn prefilter_addresses_are_all_the_ipv4_services(v in proptest::prelude::any::<u32>()) {
            let service = service_of_v4(v, &mut Flags::default());
            proptest::prop_assert!(
                METADATA_V4.contains(&v) || service.is_none() || service == Some(Service::Loopback),
                "{:#x} → {:?}", v, service
            );
        }
    }

    /// IPv4 notations of `addr`, as resolvers and truncating parsers read them.
    fn ipv4_form(addr: u32, pick: &mut impl FnMut(usize) -> usize) -> String {
        let octets = addr.to_be_bytes().map(u64::from);
        let number = |v: u64, pick: &mut dyn FnMut(usize) -> usize| -> String {
            let zeros = "0".repeat(pick(3));
            match pick(4) {
                0 => format!("0{zeros}{v:o}"),
                1 => format!("0x{zeros}{v:x}"),
                2 => format!("0X{zeros}{v:X}"),
                _ => v.to_string(),
            }
        };
        let wrap = |v: u64, pick: &mut dyn FnMut(usize) -> usize| v + 256 * pick(3) as u64;
        match pick(6) {
            0 => octets.iter().map(|&o| number(o, pick)).collect::<Vec<_>>().join("."),
            1 => octets
                .iter()
                .map(|&o| number(wrap(o, pick), pick))
                .collect::<Vec<_>>()
                .join("."),
            2 => number(u64::from(addr) + ((pick(5) as u64) << 32), pick),
            3 => format!(
                "{}.{}",
                number(octets[0], pick),
                number(u64::from(addr) & 0xFF_FFFF, pick)
            ),
            4 => format!(
                "{}.{}.{}",
                number(octets[0], pick),
                number(octets[1], pick),
                number(u64::from(addr) & 0xFFFF, pick)
            ),
            _ => std::net::Ipv4Addr::from(addr).to_string(),
        }
    }

    /// A host of any kind the canonicaliser reads, for metadata, loopback and other addresses.
    fn any_host(pick: &mut impl FnMut(usize) -> usize) -> String {
        const V4: [u32; 10] = [
            0xA9FE_A9FE,
            0xA9FE_AA02,
            0xA9FE_AA17,
            0x6464_64C8,
            0xC000_00C0,
            0x7F00_0001,
            0,
            0xA9FE_0102,
            0xC0A8_0001,
            0x0A00_0001,
        ];
        let addr = V4[pick(V4.len())];
        let dotted = std::net::Ipv4Addr::from(addr).to_string();
        let (hi, lo) = (addr >> 16, addr & 0xFFFF);
        let host = match pick(14) {
            0..=4 => ipv4_form(addr, pick),
            5 => format!("[::ffff:{dotted}]"),
            6 => format!("[::ffff:{hi:x}:{lo:x}]"),
            7 => format!("[64:ff9b::{hi:X}:{lo:X}]"),
            8 => format!("::{hi:x}:{lo:x}"),
            9 => ["[fd00:ec2::254]", "fd00:ec2::23", "[::1]", "[FD00:EC2:0:0:0:0:0:254]"][pick(4)].to_string(),
            10 => format!(
                "{}.{}",
                [
                    dotted.clone(),
                    dotted.replace('.', "-"),
                    format!("{addr:08x}"),
                    format!("{addr:08X}")
                ][pick(4)],
                ["nip.io", "sslip.io", "example.com", "rbndr.us"][pick(4)]
            ),
            11 => format!("fd00-ec2--{}.sslip.io", ["254", "23", "1"][pick(3)]),
            12 => format!("--ffff-{hi:x}-{lo:x}.sslip.io"),
            _ => [
                "metadata",
                "METADATA.google.internal",
                "metadata.goog",
                "Instance-Data",
                "instance-data.ec2.internal",
                "metadata.packet.net",
                "localhost",
                "a.localhost",
                "lvh.me",
                "ip6-localhost",
            ][pick(10)]
            .to_string(),
        };
        if pick(5) == 0 {
            host + "."
        } else {
            host
        }
    }

    /// Text around hosts: schemes, userinfo, ports, paths, values, noise (no escapes, which send
    /// the pre-filter to its loose test).
    const AROUND: &[&str] = &[
        "",
        "",
        "http://",
        "https://",
        "//",
        "http:",
        "http:/",
        "gopher://",
        "u@",
        "a:b@",
        "?url=",
        "&u=",
        "=",
        "/",
        "\\",
        " ",
        "-",
        ".",
        "a",
        "0",
        "1",
        "9",
        ":",
        "::",
        "[",
        "]",
        "x",
        "f",
        "e",
        ":80",
        ":40342",
        ":8080",
        "/latest/meta-data/",
        "/latest/api/token",
        "/computeMetadata/v1/instance/",
        "/metadata/identity/oauth2/token",
        "/v2/credentials/x",
        "/opc/v2/identity/",
        "/openstack/latest",
        "/metadata/v1/",
        "/userdata",
    ];

    /// `text` as is, or with some of its characters escaped for one of the decoding layers.
    fn escaped(text: &str, pick: &mut impl FnMut(usize) -> usize) -> String {
        let mut out = text.to_owned();
        for _ in 0..pick(3) {
            let kind = pick(4);
            out = out
                .chars()
                .map(|c| {
                    if !c.is_ascii_alphanumeric() && pick(2) == 0 || pick(3) == 0 {
                        match kind {
                            0 | 1 => c.to_string().bytes().map(|b| format!("%{b:02X}")).collect(),
                            2 => format!("\\u{:04x}", c as u32),
                            _ => format!("&#{};", c as u32),
                        }
                    } else {
                        c.to_string()
                    }
                })
                .collect();
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 20_000, ..Default::default() })]

        /// The pre-filter is a necessary condition: whatever the full scan finds, it lets through.
        #[test]
        fn prefilter_never_rejects_a_target(seed in proptest::prelude::any::<u64>(), parts in 1..5usize) {
            let mut state = seed;
            let mut pick = |n: usize| {
                // splitmix64
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) % n as u64) as usize
            };
            let mut text = String::new();
            for _ in 0..parts {
                for _ in 0..pick(3) {
                    text.push_str(AROUND[pick(AROUND.len())]);
                }
                text.push_str(&any_host(&mut pick));
                for _ in 0..pick(3) {
                    text.push_str(AROUND[pick(AROUND.len())]);
                }
            }
            let text = escaped(&text, &mut pick);
            let found = scan_layers(&text);
            proptest::prop_assert!(found.is_empty() || may_contain_target(&text), "{:?} → {:?}", text, found);
        }

        /// What `canonical_target` finds, its pre-filter lets through: targets as URLs, authorities
        /// and paths, hosts as `Host` headers, ports with leading zeros.
        #[test]
        fn canonical_prefilter_never_rejects_a_target(seed in proptest::prelude::any::<u64>()) {
            let mut state = seed;
            let mut pick = |n: usize| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) % n as u64) as usize
            };
            const PORTS: &[&str] = &["", "", ":80", ":40342", ":040342", ":0040342", ":8080"];
            let hostport = |pick: &mut dyn FnMut(usize) -> usize| {
                let mut pick = |n: usize| pick(n);
                let host = any_host(&mut pick);
                let userinfo = ["", "", "u@", "a:b@", "x.example@"][pick(5)];
                format!("{userinfo}{host}{}", PORTS[pick(PORTS.len())])
            };
            let authority = hostport(&mut pick);
            let path = AROUND[pick(AROUND.len())];
            let target = match pick(5) {
                0 => path.to_string(),
                1 => format!("//{authority}{path}"),
                2 => format!("{authority}{path}"),
                _ => format!("{}{authority}{path}", ["http://", "https:", "http:\\\\", "gopher://", "HTTP:/"][pick(5)]),
            };
            let header = match pick(3) {
                0 => None,
                _ => Some(hostport(&mut pick)),
            };
            let target = if pick(4) == 0 { escaped(&target, &mut pick) } else { target };
            let found = known_target(&target, header.as_deref());
            proptest::prop_assert!(
                found.is_none() || may_name_target(&target) || header.as_deref().is_some_and(may_name_target),
                "{:?} {:?} → {:?}", target, header, found
            );
        }

        /// The same on arbitrary glued fragments and noise.
        #[test]
        fn prefilter_never_rejects_a_target_in_noise(
            pieces in proptest::collection::vec(proptest::sample::select(AROUND), 0..12),
            noise in "[0-9a-fA-Fx.:\\-\\[\\]/@ ]{0,40}",
        ) {
            let text = pieces.concat() + &noise;
            let found = scan_layers(&text);
            proptest::prop_assert!(found.is_empty() || may_contain_target(&text), "{:?} → {:?}", text, found);
        }
    }
}
