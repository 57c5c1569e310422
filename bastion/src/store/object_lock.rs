//! Whether the bucket keeps every object under S3 Object Lock for `[recording] retention`:
//! asked with `GET /?object-lock` (GetObjectLockConfiguration), the one request the
//! object_store client has no call for, signed with its SigV4 code.
//!
//! The retention is the bucket's default retention rule, which S3 applies to every object
//! written, rather than headers on each write: object_store 0.12 adds custom headers after it
//! signs a request, which AWS refuses, and a bucket rule cannot be forgotten by a client. The
//! bastion checks at start that the rule exists, in the configured mode, at least as long.

use object_store::aws::{AwsAuthorizer, AwsCredential};
use object_store::client::{HttpRequest, HttpRequestBody};

use super::{Store, StoreError};

/// What the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLock {
    /// The bucket has Object Lock enabled, with a default retention rule that keeps every new
    /// object this long in this mode.
    Enabled {
        /// `COMPLIANCE` or `GOVERNANCE`.
        mode: String,
        /// How long.
        keep: std::time::Duration,
    },
    /// Object Lock is enabled but no default retention rule makes objects kept.
    NoDefaultRule,
    /// The store implements Object Lock, but this bucket was created without it (it can only
    /// be turned on when the bucket is created, or by AWS support).
    NotEnabled(String),
    /// The store does not implement Object Lock at all.
    Unsupported(String),
}

impl std::fmt::Display for ObjectLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectLock::Enabled { mode, keep } => write!(
                f,
                "the bucket keeps every new object {} in {mode} mode (Object Lock default retention)",
                humantime::format_duration(*keep)
            ),
            ObjectLock::NoDefaultRule => write!(
                f,
                "the bucket has Object Lock but no default retention rule: set one \
                 (PutObjectLockConfiguration, DefaultRetention) at least as long as recording.retention"
            ),
            ObjectLock::NotEnabled(why) => write!(
                f,
                "the bucket does not have Object Lock enabled ({why}): recording.retention \
                 cannot be kept; create the bucket with Object Lock"
            ),
            ObjectLock::Unsupported(why) => write!(
                f,
                "the store does not support S3 Object Lock ({why}): recording.retention \
                 cannot be kept there; remove it, or use a store that supports Object Lock"
            ),
        }
    }
}

impl Store {
    /// Asks whether the bucket has Object Lock enabled.
    ///
    /// # Errors
    /// When the store cannot be reached or answers something else than a yes or a no.
    pub async fn object_lock(&self) -> Result<ObjectLock, StoreError> {
        let url = self.bucket_query("object-lock");
        let mut request: HttpRequest = http::Request::builder()
            .method("GET")
            .uri(&url)
            .body(HttpRequestBody::from(Vec::new()))
            .map_err(|e| StoreError::ObjectLock(e.to_string()))?;
        let c = self.credentials();
        let credential = AwsCredential {
            key_id: c.key_id.clone(),
            secret_key: c.secret.clone(),
            token: c.token.clone(),
        };
        AwsAuthorizer::new(&credential, "s3", self.region()).authorize(&mut request, None);
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StoreError::ObjectLock(e.to_string()))?;
        let answer = client
            .get(&url)
            .headers(request.headers().clone())
            .send()
            .await
            .map_err(|e| StoreError::ObjectLock(format!("GET {url}: {e}")))?;
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        let code = xml_value(&body, "Code").unwrap_or_default();
        Ok(match (status.as_u16(), code.as_str()) {
            (200, _) if xml_value(&body, "ObjectLockEnabled").as_deref() == Some("Enabled") => {
                default_rule(&body)
            }
            (200, _) => ObjectLock::NotEnabled("ObjectLockEnabled is not Enabled".into()),
            (404, "ObjectLockConfigurationNotFoundError") => ObjectLock::NotEnabled(code),
            (403, _) => {
                return Err(StoreError::ObjectLock(format!(
                    "GET {url}: {status}: {}: the credentials may not ask (AWS: \
                     s3:GetBucketObjectLockConfiguration)",
                    or_status(&code)
                )))
            }
            (501, _) | (_, "NotImplemented") => {
                ObjectLock::Unsupported(format!("{status}: {}", or_status(&code)))
            }
            _ => {
                return Err(StoreError::ObjectLock(format!(
                    "GET {url}: {status}: {}",
                    or_status(&code)
                )))
            }
        })
    }
}

/// Whether objects are kept long enough, in the right mode, for `[recording] retention`:
/// `Ok(())` or what is wrong.
pub fn keeps(
    answer: &ObjectLock,
    keep: std::time::Duration,
    mode: config::RetentionMode,
) -> Result<(), String> {
    match answer {
        ObjectLock::Enabled { mode: m, keep: k } if m == mode.header_value() && *k >= keep => Ok(()),
        ObjectLock::Enabled { mode: m, keep: k } => Err(format!(
            "the bucket's default retention is {} in {m} mode; recording.retention asks for {} in {} mode",
            humantime::format_duration(*k),
            humantime::format_duration(keep),
            mode.header_value()
        )),
        other => Err(other.to_string()),
    }
}

/// The default retention rule of an Object Lock configuration.
fn default_rule(body: &str) -> ObjectLock {
    const DAY: u64 = 86_400;
    let Some(mode) = xml_value(body, "Mode") else {
        return ObjectLock::NoDefaultRule;
    };
    let days = xml_value(body, "Days").and_then(|d| d.parse::<u64>().ok());
    // S3 counts a retention year as 365 days.
    let years = xml_value(body, "Years").and_then(|y| y.parse::<u64>().ok());
    match days.map(|d| d * DAY).or(years.map(|y| y * 365 * DAY)) {
        Some(secs) => ObjectLock::Enabled {
            mode,
            keep: std::time::Duration::from_secs(secs),
        },
        None => ObjectLock::NoDefaultRule,
    }
}

fn or_status(code: &str) -> &str {
    if code.is_empty() {
        "no error code"
    } else {
        code
    }
}

/// The text of the first `<name>…</name>` element: S3's answers here are two flat elements
/// deep, not worth an XML parser.
fn xml_value(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::xml_value;

    #[test]
    fn reads_the_default_rule_and_judges_it() {
        use super::{default_rule, keeps, ObjectLock};
        use config::RetentionMode::{Compliance, Governance};
        let six_years = std::time::Duration::from_secs(6 * 365 * 86_400);
        let body = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>6</Years></DefaultRetention></Rule></ObjectLockConfiguration>";
        let rule = default_rule(body);
        assert_eq!(
            rule,
            ObjectLock::Enabled {
                mode: "COMPLIANCE".into(),
                keep: six_years
            }
        );
        assert!(keeps(&rule, six_years, Compliance).is_ok());
        assert!(keeps(&rule, six_years, Governance)
            .unwrap_err()
            .contains("GOVERNANCE"));
        assert!(keeps(&rule, six_years * 2, Compliance).is_err());
        let none = default_rule("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>");
        assert_eq!(none, ObjectLock::NoDefaultRule);
        assert!(keeps(&none, six_years, Compliance)
            .unwrap_err()
            .contains("no default retention"));
    }

    #[test]
    fn reads_the_answer_elements() {
        let ok = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(
            xml_value(ok, "ObjectLockEnabled").as_deref(),
            Some("Enabled")
        );
        let no =
            "<?xml version=\"1.0\"?><Error><Code>NotImplemented</Code><Message>x</Message></Error>";
        assert_eq!(xml_value(no, "Code").as_deref(), Some("NotImplemented"));
        assert_eq!(xml_value("<Error></Error>", "Code"), None);
    }
}
