//! An HTTP request as a WAF, load balancer, web server, CDN or network sensor logged it: the
//! runbook's second source of evidence (web applications and proxies made to read the metadata
//! service for an outside attacker).

use std::net::IpAddr;

/// What kind of component wrote the record: it decides what the fields can prove (a WAF sees
/// the whole request but not the response; an access log sees status and size; a network sensor
/// sees both legs of a proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpSensor {
    Waf,
    LoadBalancer,
    WebServer,
    Cdn,
    NetworkSensor,
}

impl HttpSensor {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpSensor::Waf => "waf",
            HttpSensor::LoadBalancer => "load_balancer",
            HttpSensor::WebServer => "web_server",
            HttpSensor::Cdn => "cdn",
            HttpSensor::NetworkSensor => "network_sensor",
        }
    }
}

/// One rule of a web ACL that matched the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WafRuleMatch {
    /// Rule id or name (`AWS-AWSManagedRulesCommonRuleSet/EC2MetaDataSSRF_QUERYARGUMENTS`).
    pub rule: String,
    /// `BLOCK`, `COUNT`, `ALLOW`, `CAPTCHA`, …
    pub action: String,
    /// Where it matched (`QUERY_STRING`, `BODY`, `HEADER`, …) when the log says.
    pub location: Option<String>,
    /// The matched data when the log carries it.
    pub data: Option<String>,
}

/// What the WAF decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WafDecision {
    /// The final action: `ALLOW`, `BLOCK`, `CAPTCHA`, `CHALLENGE`.
    pub action: String,
    pub terminating_rule: Option<String>,
    /// Every rule that matched, terminating or not (COUNT mode rules included).
    pub matches: Vec<WafRuleMatch>,
    pub web_acl: Option<String>,
}

/// One HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub sensor: HttpSensor,
    pub method: Option<String>,
    /// The request target as logged: origin form (`/path?query`) or absolute form
    /// (`http://169.254.169.254/latest/…`, the sign of a request to a proxy).
    pub target: String,
    /// `Host` header or authority, when the log carries it.
    pub host: Option<String>,
    /// Request headers the log carries (names as logged).
    pub headers: Vec<(String, String)>,
    /// Request body, or the part of it the log keeps.
    pub body: Option<String>,
    /// The peer that sent the request to the sensor.
    pub client: Option<IpAddr>,
    /// `X-Forwarded-For` as logged, when the sensor sits behind a proxy or load balancer.
    pub forwarded_for: Option<String>,
    /// The server or target that handled it (load balancer target, network sensor responder).
    pub server: Option<IpAddr>,
    pub server_port: Option<u16>,
    pub status: Option<u16>,
    pub response_bytes: Option<u64>,
    pub user_agent: Option<String>,
    /// The component that logged it: instance id, load balancer, web ACL or sensor name.
    pub observer: Option<String>,
    pub waf: Option<WafDecision>,
}

impl HttpRequest {
    pub fn new(sensor: HttpSensor, target: impl Into<String>) -> Self {
        HttpRequest {
            sensor,
            method: None,
            target: target.into(),
            host: None,
            headers: Vec::new(),
            body: None,
            client: None,
            forwarded_for: None,
            server: None,
            server_port: None,
            status: None,
            response_bytes: None,
            user_agent: None,
            observer: None,
            waf: None,
        }
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The original client: the first address of `X-Forwarded-For` when present and valid,
    /// otherwise the peer.
    pub fn original_client(&self) -> Option<IpAddr> {
        self.forwarded_for
            .as_deref()
            .and_then(|xff| xff.split(',').next())
            .and_then(|first| first.trim().parse().ok())
            .or(self.client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_client_prefers_the_first_forwarded_address() {
        let mut r = HttpRequest::new(HttpSensor::WebServer, "/");
        r.client = "10.0.0.5".parse().ok();
        assert_eq!(r.original_client(), "10.0.0.5".parse().ok());
        r.forwarded_for = Some("203.0.113.9, 10.0.0.7".into());
        assert_eq!(r.original_client(), "203.0.113.9".parse().ok());
        r.forwarded_for = Some("unknown".into());
        assert_eq!(r.original_client(), "10.0.0.5".parse().ok());
    }

    #[test]
    fn headers_are_found_whatever_their_case() {
        let mut r = HttpRequest::new(HttpSensor::Waf, "/");
        r.headers.push(("host".into(), "169.254.169.254".into()));
        assert_eq!(r.header("Host"), Some("169.254.169.254"));
        assert_eq!(r.header("Cookie"), None);
    }
}
