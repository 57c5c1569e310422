//! The connection to the store: one S3 client, and what the bastion asks of it.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::credentials::Credentials;
use super::{StoreError, StoreUrl};

/// Above this, a file goes up as a multipart upload in parts of this size; memory stays at
/// a few parts whatever the file's size.
const PART: usize = 8 << 20;
/// Parts in flight at once in a multipart upload.
const PARTS_IN_FLIGHT: usize = 2;
/// How long one request may take. Large files go up in [`PART`]-sized requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A bucket and prefix in an S3-compatible store, with credentials.
#[derive(Clone)]
pub struct Store {
    at: Arc<Place>,
    objects: Arc<AmazonS3>,
}

/// Where the store is and how to reach it.
struct Place {
    url: StoreUrl,
    endpoint: Option<String>,
    region: String,
    path_style: bool,
    credentials: Credentials,
    /// `(how long, mode)` of S3 Object Lock retention the bucket must keep.
    retention: Option<(Duration, config::RetentionMode)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.at.url)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The store `[recording]` names, or `None` when it names none. Nothing is asked of the
    /// store yet.
    ///
    /// # Errors
    /// An unusable address or endpoint, or no credentials.
    pub fn open(config: &config::Recording) -> Result<Option<Store>, StoreError> {
        let Some(store) = &config.store else {
            return Ok(None);
        };
        let url = StoreUrl::parse(store).map_err(StoreError::Config)?;
        let credentials = Credentials::load(config.store_credentials.as_deref())?;
        let retention = config
            .retention
            .map(|r| (r.duration(), config.retention_mode));
        let at = Place {
            url,
            endpoint: config.store_endpoint.clone(),
            region: config.store_region.clone(),
            path_style: config.store_path_style,
            credentials,
            retention,
        };
        let objects = Arc::new(at.client()?);
        Ok(Some(Store {
            at: Arc::new(at),
            objects,
        }))
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> &StoreUrl {
        &self.at.url
    }

    pub(super) fn region(&self) -> &str {
        &self.at.region
    }

    pub(super) fn credentials(&self) -> &Credentials {
        &self.at.credentials
    }

    /// `(how long, mode)` of the Object Lock retention the bucket must keep objects for, if any.
    pub fn retention(&self) -> Option<(Duration, config::RetentionMode)> {
        self.at.retention
    }

    /// The address of a bucket subresource (`?object-lock`), as requests reach it.
    pub(super) fn bucket_query(&self, query: &str) -> String {
        let bucket = self.at.bucket_address();
        if self.at.path_style {
            format!("{bucket}?{query}")
        } else {
            format!("{bucket}/?{query}")
        }
    }

    fn key(key: &str) -> Result<Key, StoreError> {
        Key::parse(key).map_err(|e| StoreError::Config(format!("object key {key:?}: {e}")))
    }

    fn failed(
        &self,
        op: &'static str,
        key: &str,
    ) -> impl FnOnce(object_store::Error) -> StoreError {
        let object = self.at.url.object(key);
        move |source| StoreError::Request { op, object, source }
    }

    /// Writes `bytes` as the object `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.objects
            .put(&Self::key(key)?, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(self.failed("put", key))
    }

    /// Writes bytes `range` of the file at `path` as the object `key`, in parts when large.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        range: Range<u64>,
    ) -> Result<(), StoreError> {
        let io = StoreError::io(path);
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(StoreError::io(path))?;
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(StoreError::io(path))?;
        let mut file = file.take(range.end.saturating_sub(range.start));
        let len = range.end.saturating_sub(range.start);
        let writer = &self.objects;
        let object = Self::key(key)?;
        if len <= PART as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf).await.map_err(io)?;
            if (buf.len() as u64) < len {
                return Err(StoreError::io(path)(
                    std::io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            return writer
                .put(&object, PutPayload::from(buf))
                .await
                .map(|_| ())
                .map_err(self.failed("put", key));
        }
        let upload = writer
            .put_multipart(&object)
            .await
            .map_err(self.failed("put", key))?;
        let mut parts = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; 1 << 20];
        let mut sent = 0u64;
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = parts.abort().await;
                    return Err(StoreError::io(path)(e));
                }
            };
            if n == 0 {
                break;
            }
            sent += n as u64;
            if let Err(e) = parts.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = parts.abort().await;
                return Err(self.failed("put", key)(e));
            }
            parts.write(&buf[..n]);
        }
        if sent < len {
            let _ = parts.abort().await;
            return Err(StoreError::io(path)(
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        parts
            .finish()
            .await
            .map(|_| ())
            .map_err(self.failed("put", key))
    }

    /// Writes the object `key` into `out`; returns its length.
    pub async fn get_into(
        &self,
        key: &str,
        out: &mut tokio::fs::File,
        path: &Path,
    ) -> Result<u64, StoreError> {
        let got = self
            .objects
            .get(&Self::key(key)?)
            .await
            .map_err(self.failed("get", key))?;
        let mut stream = got.into_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(self.failed("get", key))?;
            out.write_all(&chunk).await.map_err(StoreError::io(path))?;
            n += chunk.len() as u64;
        }
        out.flush().await.map_err(StoreError::io(path))?;
        Ok(n)
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.objects.head(&Self::key(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("head", key)(e)),
        }
    }

    /// Keys and sizes of the objects under `prefix` (a "directory": `prefix/…`), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        let mut listing = self.objects.list(Some(&Self::key(prefix)?));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(self.failed("list", prefix))?;
            out.push((meta.location.to_string(), meta.size));
        }
        out.sort();
        Ok(out)
    }
}

impl Place {
    fn bucket_address(&self) -> String {
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region));
        let endpoint = endpoint.trim_end_matches('/');
        if self.path_style {
            format!("{endpoint}/{}", self.url.bucket)
        } else if self.endpoint.is_some() {
            // Virtual-hosted style with an endpoint of one's own: it names the bucket already.
            endpoint.to_string()
        } else {
            format!(
                "https://{}.s3.{}.amazonaws.com",
                self.url.bucket, self.region
            )
        }
    }

    fn client(&self) -> Result<AmazonS3, StoreError> {
        let options = ClientOptions::new()
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(Duration::from_secs(5));
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&self.url.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.credentials.key_id)
            .with_secret_access_key(&self.credentials.secret)
            .with_virtual_hosted_style_request(!self.path_style)
            .with_client_options(options)
            // The spool retries with its own backoff; a request gives up soon so that the
            // failure shows (metrics, log) while the store is away.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
            });
        if let Some(t) = &self.credentials.token {
            b = b.with_token(t);
        }
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if self.retention.is_some() {
            // S3 wants a checksum on every write under Object Lock.
            b = b.with_checksum_algorithm(object_store::aws::Checksum::SHA256);
        }
        b.build().map_err(|e| StoreError::Config(e.to_string()))
    }
}
