//! Whether the bucket can hold objects under S3 Object Lock, which `[recording] retention`
//! needs: asked with `GET /?object-lock` (GetObjectLockConfiguration), the one request the
//! object_store client has no call for, signed with its SigV4 code.

use object_store::aws::{AwsAuthorizer, AwsCredential};
use object_store::client::{HttpRequest, HttpRequestBody};

use super::{Store, StoreError};

/// What the store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLock {
    /// The bucket has Object Lock enabled: retention can be set on each object.
    Enabled,
    /// The store implements Object Lock, but this bucket was created without it (it can only
    /// be turned on when the bucket is created, or by AWS support).
    NotEnabled(String),
    /// The store does not implement Object Lock at all.
    Unsupported(String),
}

impl std::fmt::Display for ObjectLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectLock::Enabled => write!(f, "Object Lock is enabled on the bucket"),
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
                ObjectLock::Enabled
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
