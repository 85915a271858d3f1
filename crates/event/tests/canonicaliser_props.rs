//! Properties of the metadata canonicaliser: every endpoint, with a path of each grade, under any
//! composition of disguises, comes back as the same provider, endpoint and grade; the same
//! disguises around any other address never produce a target. The `url` crate (a WHATWG parser,
//! what browsers and many HTTP clients use) is the oracle for the IPv4 notations.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use credtrail_event::metadata::{canonical_target, encoding, find_targets, MetadataGrade, MetadataProvider};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use proptest::prelude::*;

use MetadataGrade::{Credential, Recon, Token};

#[derive(Debug, Clone, Copy)]
enum HostSpec {
    V4(u32),
    V6(Ipv6Addr),
    Name(&'static str),
}

struct Endpoint {
    host: HostSpec,
    port: Option<u16>,
    provider: MetadataProvider,
    endpoint: &'static str,
    /// `{}` is replaced by a random segment.
    paths: &'static [(MetadataGrade, &'static str)],
}

const IMDS: HostSpec = HostSpec::V4(0xA9FE_A9FE);
const AWS_V6: HostSpec = HostSpec::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254));

const AWS: &[(MetadataGrade, &str)] = &[
    (Recon, "/latest/meta-data/{}"),
    (Recon, "/latest/meta-data/placement/{}"),
    (Recon, "/2021-07-15/meta-data/{}"),
    (Credential, "/latest/meta-data/iam/security-credentials/{}"),
    (
        Credential,
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
    ),
    (Credential, "/2009-04-04/meta-data/iam/security-credentials/"),
    (Credential, "/latest/user-data"),
    (Token, "/latest/api/token"),
];
const ECS: &[(MetadataGrade, &str)] = &[
    (Credential, "/v2/credentials/{}"),
    (Recon, "/v2/metadata"),
    (Recon, "/v4/{}/task"),
];
const EKS: &[(MetadataGrade, &str)] = &[(Credential, "/v1/credentials"), (Recon, "/v1/{}")];
const GCP: &[(MetadataGrade, &str)] = &[
    (Recon, "/computeMetadata/v1/instance/{}"),
    (Recon, "/computeMetadata/v1/project/project-id"),
    (Credential, "/computeMetadata/v1/instance/service-accounts/{}/token"),
    (
        Credential,
        "/computeMetadata/v1/instance/service-accounts/default/identity",
    ),
];
const AZURE: &[(MetadataGrade, &str)] = &[
    (Recon, "/metadata/instance/{}"),
    (Recon, "/metadata/instance"),
    (Credential, "/metadata/identity/oauth2/token"),
];
const ALIBABA: &[(MetadataGrade, &str)] = &[
    (Recon, "/latest/meta-data/{}"),
    (Credential, "/latest/meta-data/ram/security-credentials/{}"),
    (Token, "/latest/api/token"),
];
const ORACLE: &[(MetadataGrade, &str)] = &[
    (Recon, "/opc/v2/instance/{}"),
    (Credential, "/opc/v2/identity/cert.pem"),
    (Credential, "/opc/v1/identity/key.pem"),
];
const OPENSTACK: &[(MetadataGrade, &str)] = &[
    (Recon, "/openstack/latest/meta_data.json"),
    (Recon, "/openstack/{}"),
    (Credential, "/openstack/latest/user_data"),
];
const DIGITALOCEAN: &[(MetadataGrade, &str)] = &[
    (Recon, "/metadata/v1/{}"),
    (Recon, "/metadata/v1.json"),
    (Credential, "/metadata/v1/user-data"),
];
const EQUINIX: &[(MetadataGrade, &str)] = &[(Recon, "/metadata"), (Credential, "/userdata")];

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::Aws,
        endpoint: "169.254.169.254",
        paths: AWS,
    },
    Endpoint {
        host: AWS_V6,
        port: None,
        provider: MetadataProvider::Aws,
        endpoint: "fd00:ec2::254",
        paths: AWS,
    },
    Endpoint {
        host: HostSpec::Name("instance-data"),
        port: None,
        provider: MetadataProvider::Aws,
        endpoint: "instance-data",
        paths: AWS,
    },
    Endpoint {
        host: HostSpec::Name("instance-data.ec2.internal"),
        port: None,
        provider: MetadataProvider::Aws,
        endpoint: "instance-data.ec2.internal",
        paths: AWS,
    },
    Endpoint {
        host: HostSpec::V4(0xA9FE_AA02),
        port: None,
        provider: MetadataProvider::AwsEcs,
        endpoint: "169.254.170.2",
        paths: ECS,
    },
    Endpoint {
        host: HostSpec::V4(0xA9FE_AA17),
        port: None,
        provider: MetadataProvider::AwsEksPodIdentity,
        endpoint: "169.254.170.23",
        paths: EKS,
    },
    Endpoint {
        host: HostSpec::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
        port: None,
        provider: MetadataProvider::AwsEksPodIdentity,
        endpoint: "fd00:ec2::23",
        paths: EKS,
    },
    Endpoint {
        host: HostSpec::Name("metadata.google.internal"),
        port: None,
        provider: MetadataProvider::Gcp,
        endpoint: "metadata.google.internal",
        paths: GCP,
    },
    Endpoint {
        host: HostSpec::Name("metadata.goog"),
        port: None,
        provider: MetadataProvider::Gcp,
        endpoint: "metadata.goog",
        paths: GCP,
    },
    Endpoint {
        host: HostSpec::Name("metadata"),
        port: None,
        provider: MetadataProvider::Gcp,
        endpoint: "metadata",
        paths: GCP,
    },
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::Gcp,
        endpoint: "169.254.169.254",
        paths: GCP,
    },
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::Azure,
        endpoint: "169.254.169.254",
        paths: AZURE,
    },
    Endpoint {
        host: HostSpec::V4(0x7F00_0001),
        port: Some(40342),
        provider: MetadataProvider::AzureArc,
        endpoint: "127.0.0.1:40342",
        paths: AZURE,
    },
    Endpoint {
        host: HostSpec::Name("localhost"),
        port: Some(40342),
        provider: MetadataProvider::AzureArc,
        endpoint: "127.0.0.1:40342",
        paths: AZURE,
    },
    Endpoint {
        host: HostSpec::V4(0x6464_64C8),
        port: None,
        provider: MetadataProvider::Alibaba,
        endpoint: "100.100.100.200",
        paths: ALIBABA,
    },
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::Oracle,
        endpoint: "169.254.169.254",
        paths: ORACLE,
    },
    Endpoint {
        host: HostSpec::V4(0xC000_00C0),
        port: None,
        provider: MetadataProvider::Oracle,
        endpoint: "192.0.0.192",
        paths: ORACLE,
    },
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::OpenStack,
        endpoint: "169.254.169.254",
        paths: OPENSTACK,
    },
    Endpoint {
        host: IMDS,
        port: None,
        provider: MetadataProvider::DigitalOcean,
        endpoint: "169.254.169.254",
        paths: DIGITALOCEAN,
    },
    Endpoint {
        host: HostSpec::Name("metadata.packet.net"),
        port: None,
        provider: MetadataProvider::EquinixMetal,
        endpoint: "metadata.packet.net",
        paths: EQUINIX,
    },
];

/// Addresses that are (or, with Azure Arc's port, can be) metadata endpoints, plus 0.0.0.1,
/// whose IPv4-compatible IPv6 form is the loopback address.
const SPECIAL_V4: &[u32] = &[
    0xA9FE_A9FE,
    0xA9FE_AA02,
    0xA9FE_AA17,
    0x6464_64C8,
    0xC000_00C0,
    0x7F00_0001,
    0,
    1,
];

/// All the random choices of one composition, from a seed: proptest shrinks the seed poorly, so
/// every failure prints the text it built.
struct Pick(u64);

impl Pick {
    fn below(&mut self, n: usize) -> usize {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// One IPv4 notation, in a random base per part with random zero padding.
fn number(v: u64, pick: &mut Pick) -> String {
    match pick.below(3) {
        0 => v.to_string(),
        1 => format!("0{}{v:o}", "0".repeat(pick.below(3))),
        _ => {
            let x = if pick.chance(50) { "0x" } else { "0X" };
            let digits = if pick.chance(50) {
                format!("{v:x}")
            } else {
                format!("{v:X}")
            };
            format!("{x}{}{digits}", "0".repeat(pick.below(3)))
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Form {
    /// A dotted, integer or short form that a WHATWG parser reads as the same address.
    Whatwg,
    /// Overflowed forms only truncating parsers read that way.
    Overflow,
    Bracketed,
    Name,
}

fn render_v4(addr: u32, pick: &mut Pick) -> (String, Form) {
    let o = Ipv4Addr::from(addr).octets().map(u64::from);
    let hex = |v: u32| format!("{:x}:{:x}", v >> 16, v & 0xFFFF);
    let dotted = Ipv4Addr::from(addr).to_string();
    let dashed = dotted.replace('.', "-");
    match pick.below(21) {
        0 => (dotted, Form::Whatwg),
        1 => (u64::from(addr).to_string(), Form::Whatwg),
        2 | 3 => (number(u64::from(addr), pick), Form::Whatwg),
        4 | 5 => (
            o.iter().map(|&v| number(v, pick)).collect::<Vec<_>>().join("."),
            Form::Whatwg,
        ),
        6 => {
            let last = (o[2] << 8) | o[3];
            (
                format!("{}.{}.{}", number(o[0], pick), number(o[1], pick), number(last, pick)),
                Form::Whatwg,
            )
        }
        7 => (
            format!("{}.{}", number(o[0], pick), number(u64::from(addr) & 0xFF_FFFF, pick)),
            Form::Whatwg,
        ),
        8 => (
            (u64::from(addr) + ((1 + pick.below(1000) as u64) << 32)).to_string(),
            Form::Overflow,
        ),
        9 => {
            let high = 1 + pick.below(0xFFFF_FFFE) as u64;
            (format!("0x{:x}", (high << 32) | u64::from(addr)), Form::Overflow)
        }
        10 => {
            // Each octet plus a multiple of 256, at least one of them past 255.
            let mut wraps: Vec<u64> = (0..4).map(|_| pick.below(4) as u64).collect();
            let forced = pick.below(4);
            wraps[forced] = wraps[forced].max(1);
            let parts: Vec<String> = o
                .iter()
                .zip(&wraps)
                .map(|(octet, w)| (octet + 256 * w).to_string())
                .collect();
            (parts.join("."), Form::Overflow)
        }
        11 => (format!("[::ffff:{dotted}]"), Form::Bracketed),
        12 => (format!("[::ffff:{}]", hex(addr)), Form::Bracketed),
        13 => (format!("[0:0:0:0:0:ffff:{}]", hex(addr)), Form::Bracketed),
        14 => (format!("[64:ff9b::{}]", hex(addr)), Form::Bracketed),
        15 => (format!("[::{dotted}]"), Form::Bracketed),
        16 => (format!("[::ffff:0:{}]", hex(addr)), Form::Bracketed),
        17 => (
            format!("{}{dotted}.nip.io", if pick.chance(50) { "app." } else { "" }),
            Form::Name,
        ),
        18 => (
            format!("{}{dashed}.sslip.io", if pick.chance(50) { "app-" } else { "" }),
            Form::Name,
        ),
        19 => (
            format!("{addr:08x}.{}", ["nip.io", "xip.io", "sslip.io"][pick.below(3)]),
            Form::Name,
        ),
        _ => {
            let (a, b) = if pick.chance(50) {
                (addr, 0x0102_0304)
            } else {
                (0x0102_0304, addr)
            };
            (format!("{a:08x}.{b:08x}.rbndr.us"), Form::Name)
        }
    }
}

fn render_v6(ip: Ipv6Addr, pick: &mut Pick) -> (String, Form) {
    let seg = ip.segments();
    match pick.below(4) {
        0 => (format!("[{ip}]"), Form::Bracketed),
        1 => (
            format!("[{}]", seg.map(|s| format!("{s:04x}")).join(":")),
            Form::Bracketed,
        ),
        2 => (format!("[{}]", ip.to_string().to_uppercase()), Form::Bracketed),
        _ => (format!("{}.sslip.io", ip.to_string().replace(':', "-")), Form::Name),
    }
}

fn random_case(s: &str, pick: &mut Pick) -> String {
    if !pick.chance(30) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| if pick.chance(50) { c.to_ascii_uppercase() } else { c })
        .collect()
}

/// Full-width characters, enclosed alphanumerics, ideographic full stops, soft hyphens.
fn unicode(s: &str, pick: &mut Pick) -> String {
    let mode = pick.below(5);
    if mode == 0 {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        // Modes 1-3: every character in one style; mode 4: a random mix, some left as they are.
        let transform = mode != 4 || pick.chance(50);
        let style = if mode == 4 { pick.below(3) + 1 } else { mode };
        if !transform {
            out.push(c);
        } else if c == '.' {
            out.push(['。', '｡', '．', '.'][pick.below(4)]);
        } else if style == 1 && ('!'..='~').contains(&c) {
            out.push(char::from_u32(0xFF01 + (c as u32 - 0x21)).unwrap());
        } else if style == 2 && c.is_ascii_alphanumeric() {
            let enclosed = match c {
                '0' => 0x24EA,
                '1'..='9' => 0x2460 + (c as u32 - '1' as u32),
                'a'..='z' => 0x24D0 + (c as u32 - 'a' as u32),
                _ => 0x24B6 + (c.to_ascii_uppercase() as u32 - 'A' as u32),
            };
            out.push(char::from_u32(enclosed).unwrap());
        } else {
            out.push(c);
        }
        if style == 3 && pick.chance(20) {
            out.push('\u{00AD}');
        }
    }
    out
}

struct Composed {
    /// The URL (or scheme-less host and path) before any wrapping.
    url: String,
    /// The text `find_targets` reads: `url` percent-encoded and nested.
    text: String,
    form: Form,
    /// The host alone, for the WHATWG oracle.
    host: String,
}

fn compose(host: HostSpec, port: Option<u16>, path: &str, pick: &mut Pick) -> Composed {
    let (host, form) = match host {
        HostSpec::V4(addr) => render_v4(addr, pick),
        HostSpec::V6(ip) => render_v6(ip, pick),
        HostSpec::Name(name) => (name.to_owned(), Form::Name),
    };
    let mut host = random_case(&host, pick);
    if form != Form::Bracketed {
        if pick.chance(20) {
            host.push('.');
        }
        host = unicode(&host, pick);
    }
    let scheme = [
        "http://",
        "https://",
        "HTTP://",
        "http:",
        "http:/",
        "http:\\\\",
        "gopher://",
        "",
        "//",
    ][pick.below(9)];
    let userinfo = if scheme.is_empty() {
        ""
    } else {
        ["", "", "user@", "google.com@", "a:b@"][pick.below(5)]
    };
    let port = match port {
        Some(p) => format!(":{p}"),
        None if pick.chance(20) => ":80".to_owned(),
        None => String::new(),
    };
    let mut path = path.to_owned();
    match pick.below(5) {
        0 => path.insert_str(0, "/x/.."),
        1 => {
            if let Some(i) = path.find(|c: char| c.is_ascii_lowercase()) {
                let c = path.remove(i);
                path.insert_str(i, &format!("%{:02X}", c as u32));
            }
        }
        2 => path = path.replace('/', "\\"),
        _ => {}
    }
    let query = ["", "", "?x=1", "#top"][pick.below(4)];
    let url = format!("{scheme}{userinfo}{host}{port}{path}{query}");
    let mut inner = url.clone();
    for _ in 0..pick.below(4) {
        inner = utf8_percent_encode(&inner, NON_ALPHANUMERIC).to_string();
    }
    let text = match pick.below(5) {
        0 => inner,
        1 => format!("https://shop.example/fetch?url={inner}&w=1"),
        2 => format!(r#"{{"url":"{inner}","n":1}}"#),
        3 => format!("please fetch {inner} now"),
        _ => format!("a=1&target={inner}"),
    };
    Composed { url, text, form, host }
}

fn fill(template: &str, segment: &str) -> String {
    template.replace("{}", segment)
}

fn metadata_v4(ip: Ipv4Addr) -> bool {
    SPECIAL_V4[..5].contains(&u32::from(ip))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_disguised_endpoint_round_trips(
        endpoint in 0..ENDPOINTS.len(),
        path in any::<prop::sample::Index>(),
        segment in "m[a-z0-9]{0,8}",
        seed in any::<u64>(),
    ) {
        let e = &ENDPOINTS[endpoint];
        let (grade, template) = e.paths[path.index(e.paths.len())];
        let mut pick = Pick(seed);
        let c = compose(e.host, e.port, &fill(template, &segment), &mut pick);
        let expected = (e.provider, e.endpoint, grade);
        let found = find_targets(&c.text);
        prop_assert!(!found.is_empty(), "nothing found in {:?}", c.text);
        for t in &found {
            prop_assert_eq!((t.provider, t.endpoint.as_str(), t.grade), expected, "{:?} → {:?}", c.text, t);
        }
        let direct = canonical_target(&c.url, None);
        prop_assert!(direct.is_some(), "canonical_target({:?}) is None", c.url);
        let direct = direct.unwrap();
        prop_assert_eq!((direct.provider, direct.endpoint.as_str(), direct.grade), expected, "{:?}", c.url);
        // The notations a WHATWG parser accepts must be the ones it reads as the same address.
        if c.form == Form::Whatwg {
            if let HostSpec::V4(addr) = e.host {
                let parsed = url::Url::parse(&format!("http://{}/", c.host)).unwrap();
                prop_assert_eq!(parsed.host(), Some(url::Host::Ipv4(Ipv4Addr::from(addr))), "{:?}", c.host);
            }
        }
    }

    #[test]
    fn other_addresses_in_the_same_disguises_are_never_targets(
        addr in any::<u32>().prop_filter("not special", |a| !SPECIAL_V4.contains(a)),
        path in any::<prop::sample::Index>(),
        segment in "m[a-z0-9]{0,8}",
        seed in any::<u64>(),
    ) {
        let paths: Vec<(MetadataGrade, &str)> = [AWS, GCP, AZURE, ECS].concat();
        let (_, template) = paths[path.index(paths.len())];
        let mut pick = Pick(seed);
        let port = if pick.chance(20) { Some(40342) } else { None };
        let c = compose(HostSpec::V4(addr), port, &fill(template, &segment), &mut pick);
        let found = find_targets(&c.text);
        prop_assert!(found.is_empty(), "{:?} → {:?}", c.text, found);
        prop_assert_eq!(canonical_target(&c.url, None), None, "{:?}", c.url);
    }

    /// Differential test against WHATWG on numeric hosts: notations of metadata and random
    /// addresses, some mutated (a part appended, dropped, pushed past its width, a digit changed).
    /// Wherever the `url` crate reads an IPv4 address, the canonicaliser agrees on whether it is a
    /// metadata endpoint; where it reads none, the canonicaliser reports one only through the
    /// overflow readings of truncating parsers, and says so.
    #[test]
    fn ipv4_parsing_agrees_with_whatwg(
        special in 0..6usize,
        random in any::<u32>(),
        seed in any::<u64>(),
        mutation in 0..6usize,
        digit in 0..10u32,
        trailing_dot in any::<bool>(),
    ) {
        let addr = SPECIAL_V4.get(special).copied().unwrap_or(random);
        let mut pick = Pick(seed);
        let host = loop {
            let (host, form) = render_v4(addr, &mut pick);
            if matches!(form, Form::Whatwg | Form::Overflow) {
                break host;
            }
        };
        let mut host = match mutation {
            1 => format!("{host}.{}", digit * 37),
            2 => host.rsplit_once('.').map_or(host.clone(), |(head, _)| head.to_owned()),
            3 => format!("{host}{digit}"),
            4 => {
                let mut chars: Vec<char> = host.chars().collect();
                let i = pick.below(chars.len());
                if chars[i].is_ascii_digit() {
                    chars[i] = char::from_digit(digit, 10).unwrap();
                }
                chars.into_iter().collect()
            }
            5 => format!("{}{host}", digit),
            _ => host,
        };
        if trailing_dot {
            host.push('.');
        }
        let target = format!("http://{host}/latest/meta-data/");
        let ours = canonical_target(&target, None);
        match url::Url::parse(&target).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
            Some(url::Host::Ipv4(ip)) => {
                let expected = metadata_v4(ip).then(|| ip.to_string());
                prop_assert_eq!(ours.as_ref().map(|t| t.endpoint.clone()), expected, "{}", host);
            }
            Some(_) => prop_assert!(ours.is_none(), "{} → {:?}", host, ours),
            None => {
                if let Some(t) = ours {
                    prop_assert!(t.encodings.contains(&encoding::IPV4_OVERFLOW), "{} → {:?}", host, t);
                }
            }
        }
    }
}

/// Pieces that exercise every branch of the scanner and the decoders when glued at random.
const FRAGMENTS: &[&str] = &[
    "%",
    "%2",
    "%25",
    "%3A",
    "%2F",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\u002f",
    "&#",
    "&#x",
    "&#58;",
    ";",
    "[",
    "]",
    ":",
    "::",
    "@",
    "/",
    "\\",
    ".",
    "-",
    "169",
    "254",
    "0x",
    "0",
    "a9fe",
    "ffff",
    "fd00",
    "①",
    "⓪",
    "。",
    "｡",
    "．",
    "１",
    "\u{AD}",
    "\u{FDFA}",
    "é",
    "http:",
    "//",
    "gopher://",
    "metadata",
    "instance-data",
    "localhost",
    "nip.io",
    "rbndr.us",
    "?",
    "#",
    " ",
    "\"",
    "=",
    "&",
    "40342",
    "latest",
    "api",
    "token",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// No input panics either entry point (both read attacker-controlled text).
    #[test]
    fn arbitrary_text_never_panics(
        pieces in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40),
        noise in ".{0,40}",
        host in ".{0,20}",
    ) {
        let text = pieces.concat() + &noise;
        let _ = find_targets(&text);
        let _ = canonical_target(&text, Some(&host));
        let _ = canonical_target(&noise, Some(&text));
    }
}

/// The scanner stays linear on inputs built to make a naive one quadratic (every `::` an IPv6
/// candidate, every run followed by a long path, every `@` a userinfo look-back, nested escapes).
/// The bound is loose on purpose: a quadratic scan of a megabyte takes minutes.
#[test]
fn pathological_inputs_stay_linear() {
    let inputs = [
        ":".repeat(1 << 20),
        "a1/".repeat(1 << 18),
        "@a1".repeat(1 << 18),
        "%25".repeat(1 << 18),
        "[".repeat(1 << 20),
        "1.".repeat(1 << 19),
        "\\u0031".repeat(1 << 17),
        "&#49;".repeat(1 << 17),
        "①".repeat(1 << 17),
        "169.254.169.254/".repeat(1 << 16),
        "http://".repeat(1 << 17),
    ];
    for text in &inputs {
        let start = std::time::Instant::now();
        let _ = find_targets(text);
        let elapsed = start.elapsed();
        assert!(
            elapsed < std::time::Duration::from_secs(10),
            "{:?}…: {elapsed:?}",
            &text[..16]
        );
    }
}
