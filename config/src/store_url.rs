//! `[recording] store`: which bucket and key prefix recordings go to.

use std::fmt;

/// An `s3://bucket/prefix` address, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The bucket's name.
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl StoreUrl {
    /// Parses `s3://bucket` or `s3://bucket/some/prefix`.
    ///
    /// # Errors
    /// A message saying what is wrong, for the configuration's error.
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err(format!("expected \"s3://bucket/prefix\", found {s:?}"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's own rule for bucket names: 3-63 of lowercase letters, digits, '.' and '-'.
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '.' or '-')"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(char::is_control)
        {
            return Err(format!("{prefix:?} is not a usable key prefix"));
        }
        Ok(StoreUrl {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The object key of `relative` (a path inside the spool, `/`-separated).
    pub fn key(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    /// The `s3://` address of the object at `key`.
    pub fn object(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StoreUrl;

    #[test]
    fn parses_bucket_and_prefix() {
        let u = StoreUrl::parse("s3://recordings/fleet/eu/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("recordings", "fleet/eu")
        );
        assert_eq!(u.key("2026/12/03/a-1.cast"), "fleet/eu/2026/12/03/a-1.cast");
        assert_eq!(u.object("k"), "s3://recordings/k");
        assert_eq!(StoreUrl::parse("s3://rec").unwrap().key("x"), "x");
        for bad in [
            "recordings",
            "s3://",
            "s3://Upper",
            "s3://ab",
            "s3://b_c/x",
            "s3://rec/a/../b",
            "https://rec",
        ] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
