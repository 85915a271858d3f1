//! Published cloud provider address ranges, for telling "inside AWS" from "outside any cloud".

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

/// A cloud provider whose published ranges credtrail knows, and whose audit log a
/// [`crate::CloudApiCall`] came from (AWS unless a GCP or Azure format says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Provider {
    #[default]
    Aws,
    Gcp,
    Azure,
    Oracle,
    DigitalOcean,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Aws => "AWS",
            Provider::Gcp => "Google Cloud",
            Provider::Azure => "Azure",
            Provider::Oracle => "Oracle Cloud",
            Provider::DigitalOcean => "DigitalOcean",
        }
    }

    /// The lower-case key alerts carry in `entities.cloud` (`aws`, `gcp`, `azure`).
    pub fn key(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Gcp => "gcp",
            Provider::Azure => "azure",
            Provider::Oracle => "oracle",
            Provider::DigitalOcean => "digitalocean",
        }
    }
}

/// The most specific published prefix that holds an address, per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMatch {
    pub provider: Provider,
    pub prefix: IpNet,
    /// AWS `service` (`EC2`, `AMAZON`, …) or the provider's service tag.
    pub service: String,
    pub region: String,
}

/// What a publisher says about a prefix. Every prefix of one (provider, service, region) shares
/// one label: the Azure snapshot alone repeats a few thousand labels over about a hundred
/// thousand prefixes, and owning two strings per prefix made loading the bundled snapshot (on
/// every run) cost 5 % of a CloudTrail scan and most of its start-up memory.
#[derive(Debug, Clone)]
struct Label {
    provider: Provider,
    service: Box<str>,
    region: Box<str>,
}

/// One label of a prefix, and the next label of the same prefix (prefixes published by several
/// providers or services chain their labels), or [`Link::END`].
#[derive(Debug, Clone, Copy)]
struct Link {
    label: u32,
    next: u32,
}

impl Link {
    const END: u32 = u32::MAX;
}

/// Prefix tables keyed by prefix length: a lookup probes each length that occurs, so overlapping
/// prefixes (AWS publishes `AMAZON` supersets of `EC2` ranges) all resolve. A table maps a
/// prefix to the first of its [`Link`]s.
#[derive(Debug, Clone, Default)]
pub struct CloudRanges {
    v4: BTreeMap<u8, HashMap<u32, u32>>,
    v6: BTreeMap<u8, HashMap<u128, u32>>,
    links: Vec<Link>,
    labels: Vec<Label>,
    /// `provider\0service\0region` → index in `labels`, for interning while adding.
    label_ids: HashMap<String, u32>,
    /// Reused to build `label_ids` keys without allocating on every prefix.
    scratch: String,
    /// Provider → snapshot date as the publisher wrote it.
    pub snapshots: BTreeMap<Provider, String>,
    prefixes: usize,
}

impl CloudRanges {
    pub fn add(&mut self, provider: Provider, net: IpNet, service: &str, region: &str) {
        let label = self.intern(provider, service, region);
        let head = match net.trunc() {
            IpNet::V4(n) => self
                .v4
                .entry(n.prefix_len())
                .or_default()
                .entry(u32::from(n.network()))
                .or_insert(Link::END),
            IpNet::V6(n) => self
                .v6
                .entry(n.prefix_len())
                .or_default()
                .entry(u128::from(n.network()))
                .or_insert(Link::END),
        };
        // One label per (provider, service) and prefix: the first region published wins.
        let mut at = *head;
        let mut last = None;
        while at != Link::END {
            let link = self.links[at as usize];
            let known = &self.labels[link.label as usize];
            if known.provider == provider && &*known.service == service {
                self.prefixes += 1;
                return;
            }
            last = Some(at);
            at = link.next;
        }
        let new = u32::try_from(self.links.len()).unwrap_or(Link::END);
        self.links.push(Link { label, next: Link::END });
        match last {
            Some(last) => self.links[last as usize].next = new,
            None => *head = new,
        }
        self.prefixes += 1;
    }

    fn intern(&mut self, provider: Provider, service: &str, region: &str) -> u32 {
        use std::fmt::Write;
        self.scratch.clear();
        let _ = write!(self.scratch, "{provider:?}\0{service}\0{region}");
        if let Some(&id) = self.label_ids.get(self.scratch.as_str()) {
            return id;
        }
        let id = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(Label {
            provider,
            service: service.into(),
            region: region.into(),
        });
        self.label_ids.insert(self.scratch.clone(), id);
        id
    }

    /// The labels of the prefix whose first link is `head`, in the order they were added.
    fn labels_from(&self, head: u32) -> impl Iterator<Item = &Label> {
        let mut at = head;
        std::iter::from_fn(move || {
            let link = self.links.get(at as usize)?;
            at = link.next;
            self.labels.get(link.label as usize)
        })
    }

    pub fn len(&self) -> usize {
        self.prefixes
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Every provider holding `ip`, each with its most specific prefix; AWS entries prefer a
    /// specific service (`EC2`) over the `AMAZON` umbrella at the same length.
    pub fn lookup(&self, ip: IpAddr) -> Vec<RangeMatch> {
        let mut best: BTreeMap<Provider, RangeMatch> = BTreeMap::new();
        let mut consider = |net: IpNet, head: u32| {
            for e in self.labels_from(head) {
                let better = match best.get(&e.provider) {
                    None => true,
                    Some(cur) => {
                        net.prefix_len() > cur.prefix.prefix_len()
                            || (net.prefix_len() == cur.prefix.prefix_len() && cur.service == "AMAZON")
                    }
                };
                if better {
                    best.insert(
                        e.provider,
                        RangeMatch {
                            provider: e.provider,
                            prefix: net,
                            service: e.service.to_string(),
                            region: e.region.to_string(),
                        },
                    );
                }
            }
        };
        match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                for (&len, table) in &self.v4 {
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
                    if let Some(&head) = table.get(&(bits & mask)) {
                        if let Ok(net) = IpNet::new(IpAddr::V4((bits & mask).into()), len) {
                            consider(net, head);
                        }
                    }
                }
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                for (&len, table) in &self.v6 {
                    let mask = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(len))
                    };
                    if let Some(&head) = table.get(&(bits & mask)) {
                        if let Ok(net) = IpNet::new(IpAddr::V6((bits & mask).into()), len) {
                            consider(net, head);
                        }
                    }
                }
            }
        }
        best.into_values().collect()
    }

    pub fn aws(&self, ip: IpAddr) -> Option<RangeMatch> {
        self.lookup(ip).into_iter().find(|m| m.provider == Provider::Aws)
    }
}

/// The compact form of a [`CloudRanges`] ([`CloudRanges::to_bytes`]): what the binary bundles,
/// so that a run starts without parsing 7 MB of published JSON (35 ms of CPU on every run, 8 % of
/// a one-thread scan of 200 MB of access logs). Little-endian; strings are a `u32` length and
/// UTF-8 bytes; tables are sorted, so equal ranges give equal bytes.
const MAGIC: &[u8; 8] = b"CTRANGE1";

/// Providers in their byte order.
const PROVIDERS: [Provider; 5] = [
    Provider::Aws,
    Provider::Gcp,
    Provider::Azure,
    Provider::Oracle,
    Provider::DigitalOcean,
];

impl CloudRanges {
    /// Everything [`CloudRanges::from_bytes`] needs to rebuild an equal value: labels, links,
    /// every prefix table and the snapshot dates.
    pub fn to_bytes(&self) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        fn provider(p: Provider) -> u8 {
            PROVIDERS.iter().position(|&q| q == p).unwrap_or(0) as u8
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(self.prefixes as u64).to_le_bytes());
        out.extend_from_slice(&(self.snapshots.len() as u32).to_le_bytes());
        for (&p, date) in &self.snapshots {
            out.push(provider(p));
            text(&mut out, date);
        }
        out.extend_from_slice(&(self.labels.len() as u32).to_le_bytes());
        for label in &self.labels {
            out.push(provider(label.provider));
            text(&mut out, &label.service);
            text(&mut out, &label.region);
        }
        out.extend_from_slice(&(self.links.len() as u32).to_le_bytes());
        for link in &self.links {
            out.extend_from_slice(&link.label.to_le_bytes());
            out.extend_from_slice(&link.next.to_le_bytes());
        }
        write_tables(&mut out, &self.v4);
        write_tables(&mut out, &self.v6);
        out
    }

    /// The value [`CloudRanges::to_bytes`] wrote, or `None` for bytes it did not write (a wrong
    /// magic, a cut, a link or label out of range, a prefix length too long).
    pub fn from_bytes(bytes: &[u8]) -> Option<CloudRanges> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let mut ranges = CloudRanges {
            prefixes: usize::try_from(r.u64()?).ok()?,
            ..CloudRanges::default()
        };
        for _ in 0..r.u32()? {
            let p = r.provider()?;
            ranges.snapshots.insert(p, r.text()?.to_string());
        }
        let labels = r.u32()?;
        for _ in 0..labels {
            let (p, service, region) = (r.provider()?, r.text()?, r.text()?);
            if ranges.intern(p, service, region) as usize != ranges.labels.len() - 1 {
                return None;
            }
        }
        let links = r.u32()? as usize;
        ranges.links.reserve_exact(links.min(bytes.len() / 8));
        for _ in 0..links {
            let link = Link {
                label: r.u32()?,
                next: r.u32()?,
            };
            let next_ok = link.next == Link::END || (link.next as usize) < links;
            if link.label >= labels || !next_ok {
                return None;
            }
            ranges.links.push(link);
        }
        ranges.v4 = read_tables(&mut r, links)?;
        ranges.v6 = read_tables(&mut r, links)?;
        (r.at == bytes.len()).then_some(ranges)
    }
}

/// A prefix table's key: an IPv4 or IPv6 network as a number.
trait NetworkKey: Copy + Ord + std::hash::Hash {
    const BITS: u8;
    fn put(self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Option<Self>;
}

impl NetworkKey for u32 {
    const BITS: u8 = 32;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Option<Self> {
        r.u32()
    }
}

impl NetworkKey for u128 {
    const BITS: u8 = 128;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Option<Self> {
        r.u128()
    }
}

/// One family's tables: their count, then per prefix length the length, the row count and the
/// rows (network, first link) sorted by network.
fn write_tables<K: NetworkKey>(out: &mut Vec<u8>, tables: &BTreeMap<u8, HashMap<K, u32>>) {
    out.push(tables.len() as u8);
    for (&len, table) in tables {
        let mut rows: Vec<(K, u32)> = table.iter().map(|(&k, &v)| (k, v)).collect();
        rows.sort_unstable();
        out.push(len);
        out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        for (net, head) in rows {
            net.put(out);
            out.extend_from_slice(&head.to_le_bytes());
        }
    }
}

/// What [`write_tables`] wrote, checked: lengths within the family, links within `links`.
fn read_tables<K: NetworkKey>(r: &mut Reader<'_>, links: usize) -> Option<BTreeMap<u8, HashMap<K, u32>>> {
    let mut tables = BTreeMap::new();
    for _ in 0..r.u8()? {
        let (len, rows) = (r.u8()?, r.u32()? as usize);
        if len > K::BITS {
            return None;
        }
        // Capacity from the bytes left, not from a count that may lie.
        let mut table = HashMap::with_capacity(rows.min(r.bytes.len().saturating_sub(r.at) / 8));
        for _ in 0..rows {
            let (net, head) = (K::get(r)?, r.u32()?);
            if head as usize >= links {
                return None;
            }
            table.insert(net, head);
        }
        tables.insert(len, table);
    }
    Some(tables)
}

/// Reads [`CloudRanges::to_bytes`]'s fields in order; `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let part = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(part)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
    fn u128(&mut self) -> Option<u128> {
        self.array().map(u128::from_le_bytes)
    }
    fn text(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
    fn provider(&mut self) -> Option<Provider> {
        PROVIDERS.get(self.u8()? as usize).copied()
    }
}

/// Private, loopback, link-local, shared and other non-routable addresses: an address like this in
/// an AWS log means the call crossed a VPC endpoint.
pub fn is_non_routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || (seg[0] & 0xfe00) == 0xfc00 || (seg[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_prefix_and_specific_service_win() {
        let mut r = CloudRanges::default();
        r.add(Provider::Aws, "18.236.0.0/15".parse().unwrap(), "AMAZON", "us-west-2");
        r.add(Provider::Aws, "18.236.0.0/15".parse().unwrap(), "EC2", "us-west-2");
        r.add(Provider::Aws, "18.0.0.0/8".parse().unwrap(), "AMAZON", "GLOBAL");
        r.add(Provider::DigitalOcean, "159.65.0.0/16".parse().unwrap(), "", "");
        let m = r.aws("18.236.253.47".parse().unwrap()).unwrap();
        assert_eq!(m.service, "EC2");
        assert_eq!(m.prefix.to_string(), "18.236.0.0/15");
        assert!(r.aws("159.65.3.29".parse().unwrap()).is_none());
        assert_eq!(
            r.lookup("159.65.3.29".parse().unwrap())[0].provider,
            Provider::DigitalOcean
        );
        assert!(r.lookup("91.92.248.57".parse().unwrap()).is_empty());
    }

    #[test]
    fn the_compact_form_round_trips_and_refuses_what_it_did_not_write() {
        let mut r = CloudRanges::default();
        r.add(Provider::Aws, "52.94.0.0/22".parse().unwrap(), "AMAZON", "us-east-1");
        r.add(Provider::Aws, "52.94.0.0/22".parse().unwrap(), "EC2", "us-east-1");
        r.add(
            Provider::Gcp,
            "2600:1900::/28".parse().unwrap(),
            "Google Cloud",
            "us-central1",
        );
        r.snapshots.insert(Provider::Aws, "2026-08-22-15-17-05".into());
        let bytes = r.to_bytes();
        let back = CloudRanges::from_bytes(&bytes).expect("round trip");
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.len(), 3);
        assert_eq!(back.snapshots, r.snapshots);
        for ip in ["52.94.1.7", "52.94.4.1", "2600:1900::1", "10.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(back.lookup(ip), r.lookup(ip), "{ip}");
        }
        // Every cut, and a flipped magic, is refused rather than misread or a panic.
        for cut in 0..bytes.len() {
            assert!(CloudRanges::from_bytes(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[0] ^= 1;
        assert!(CloudRanges::from_bytes(&wrong).is_none());
    }

    #[test]
    fn ipv6_prefixes_resolve() {
        let mut r = CloudRanges::default();
        r.add(Provider::Aws, "2600:1f00::/24".parse().unwrap(), "EC2", "us-east-1");
        assert!(r.aws("2600:1f18::1".parse().unwrap()).is_some());
        assert!(r.aws("2a01::1".parse().unwrap()).is_none());
    }

    #[test]
    fn private_addresses_are_non_routable() {
        for ip in [
            "10.1.2.3",
            "172.31.154.217",
            "192.168.0.1",
            "100.64.0.1",
            "fd00:ec2::254",
        ] {
            assert!(is_non_routable(ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_non_routable("18.236.253.47".parse().unwrap()));
    }
}
