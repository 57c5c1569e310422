//! Reading a recording back from the store, for `bastion verify` and `bastion play` on an
//! `s3://` address: into a private temporary directory, streamed (no size bound in memory),
//! then checked and replayed like a local file.

use std::path::PathBuf;

use super::{Store, StoreError};

/// A recording copied out of the store.
#[derive(Debug)]
pub struct Fetched {
    /// The copy (`<dir>/<name>.cast`, its sidecar beside it). Removed with `_dir`.
    pub cast: PathBuf,
    /// `Some(n)` when the recording was not sealed in the store and was put together from its
    /// `n` parts (the bastion had not finished, or died).
    pub parts: Option<u64>,
    _dir: tempfile::TempDir,
}

impl Store {
    /// Copies the recording at `address` (`s3://bucket/key`, in this store's bucket) and its
    /// sidecar out of the store; when only its parts are there, puts them together.
    ///
    /// # Errors
    /// An address in another bucket, a recording that is not there, or a failed request.
    pub async fn fetch(&self, address: &str) -> Result<Fetched, StoreError> {
        let bucket_prefix = format!("s3://{}/", self.url().bucket);
        let Some(key) = address.strip_prefix(&bucket_prefix) else {
            return Err(StoreError::Config(format!(
                "{address} is not in the configured store ({})",
                self.url()
            )));
        };
        let name = key.rsplit('/').next().unwrap_or(key);
        if name.is_empty() || !name.ends_with(".cast") {
            return Err(StoreError::Config(format!(
                "{address} does not name a recording (…/<session>-<channel>.cast)"
            )));
        }
        let dir = tempfile::tempdir().map_err(StoreError::io(std::path::Path::new("tmp")))?;
        let cast = dir.path().join(name);
        let sig = recorder::sidecar_path(&cast);
        let mut out = create(&cast).await?;
        match self.get_into(key, &mut out, &cast).await {
            Ok(_) => {
                let mut s = create(&sig).await?;
                match self.get_into(&format!("{key}.sig"), &mut s, &sig).await {
                    Ok(_) => {}
                    // Verification reports the missing sidecar.
                    Err(e) if e.is_not_found() => drop(tokio::fs::remove_file(&sig).await),
                    Err(e) => return Err(e),
                }
                return Ok(Fetched {
                    cast,
                    parts: None,
                    _dir: dir,
                });
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let listed = self.list(&format!("{key}.parts")).await?;
        let casts: Vec<&String> = listed
            .iter()
            .map(|(k, _)| k)
            .filter(|k| k.ends_with(".cast"))
            .collect();
        if casts.is_empty() {
            return Err(StoreError::Config(format!(
                "{address}: no such recording in the store (neither the sealed object nor parts)"
            )));
        }
        let mut s = create(&sig).await?;
        for part in &casts {
            self.get_into(part, &mut out, &cast).await?;
            let part_sig = format!("{}.sig", part.trim_end_matches(".cast"));
            match self.get_into(&part_sig, &mut s, &sig).await {
                Ok(_) => {}
                // A part whose sidecar did not make it: the verifier sees the unsigned tail.
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Fetched {
            cast,
            parts: Some(casts.len() as u64),
            _dir: dir,
        })
    }
}

async fn create(path: &std::path::Path) -> Result<tokio::fs::File, StoreError> {
    tokio::fs::File::create(path)
        .await
        .map_err(StoreError::io(path))
}
