//! Certificates the CA issued and revocations: the writes behind the HTTP API and
//! `bastion ca revoke`, the check made at every authentication, and `bastion audit certs`.

use serde::Serialize;

use super::store::{with_pool, AuditStore};
use super::{AuditError, Filter};

/// A certificate was issued.
#[derive(Debug, Clone)]
pub struct CertificateIssued {
    pub serial: u64,
    pub key_id: String,
    pub principals: Vec<String>,
    /// SHA256 fingerprint of the certified key.
    pub public_key: String,
    pub valid_after_ms: i64,
    pub valid_before_ms: i64,
    /// `cli`, `oidc` or `ci`.
    pub source: String,
    /// Token subject, or the operator for `cli`.
    pub requester: Option<String>,
    pub issued_at_ms: i64,
}

/// What a revocation names; at least one of them.
#[derive(Debug, Clone, Default)]
pub struct Revocation {
    pub serial: Option<u64>,
    pub key_id: Option<String>,
    pub revoked_at_ms: i64,
    pub revoked_by: String,
    pub reason: String,
}

/// An issued certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRow {
    pub id: i64,
    /// A decimal string in JSON (64-bit serials do not survive JSON numbers).
    pub serial: String,
    pub key_id: String,
    pub principals: Vec<String>,
    pub public_key: String,
    pub valid_after_ms: i64,
    pub valid_before_ms: i64,
    pub source: String,
    pub requester: Option<String>,
    pub issued_at_ms: i64,
    /// Whether a revocation names its serial or key id.
    pub revoked: bool,
}

#[derive(sqlx::FromRow)]
struct RawCertificate {
    id: i64,
    serial: String,
    key_id: String,
    principals: String,
    public_key: String,
    valid_after_ms: i64,
    valid_before_ms: i64,
    source: String,
    requester: Option<String>,
    issued_at_ms: i64,
    revoked: i64,
}

const CERTIFICATES: &str = "SELECT c.id, c.serial, c.key_id, c.principals, c.public_key, \
     c.valid_after_ms, c.valid_before_ms, c.source, c.requester, c.issued_at_ms, \
     (SELECT COUNT(*) FROM revocations r WHERE r.serial = c.serial OR r.key_id = c.key_id) AS revoked \
     FROM certificates c \
     WHERE ($1 IS NULL OR c.issued_at_ms >= $1) AND ($2 IS NULL OR c.key_id = $2) \
     ORDER BY c.issued_at_ms DESC, c.id DESC LIMIT $3";

impl AuditStore {
    /// Records an issued certificate.
    pub async fn certificate_issued(&self, c: &CertificateIssued) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO certificates (serial, key_id, principals, public_key, \
             valid_after_ms, valid_before_ms, source, requester, issued_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let principals = serde_json::to_string(&c.principals).unwrap_or_else(|_| "[]".into());
        let insert = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(c.serial.to_string())
                .bind(&c.key_id)
                .bind(&principals)
                .bind(&c.public_key)
                .bind(c.valid_after_ms)
                .bind(c.valid_before_ms)
                .bind(&c.source)
                .bind(&c.requester)
                .bind(c.issued_at_ms)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(insert).await
    }

    /// Records a revocation; effective at the next authentication on every bastion sharing
    /// the store.
    pub async fn revoke(&self, r: &Revocation) -> Result<(), AuditError> {
        const SQL: &str =
            "INSERT INTO revocations (serial, key_id, revoked_at_ms, revoked_by, reason) \
             VALUES ($1, $2, $3, $4, $5)";
        let serial = r.serial.map(|s| s.to_string());
        let insert = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(&serial)
                .bind(&r.key_id)
                .bind(r.revoked_at_ms)
                .bind(&r.revoked_by)
                .bind(&r.reason)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(insert).await
    }

    /// Whether a revocation names this serial or this key id. Called at every authentication;
    /// the caller refuses on `Err` (fail closed).
    // The gateway calls it at every authentication (being wired by the lead).
    pub async fn is_revoked(&self, serial: u64, key_id: &str) -> Result<bool, AuditError> {
        const SQL: &str = "SELECT COUNT(*) FROM revocations WHERE serial = $1 OR key_id = $2";
        let serial = serial.to_string();
        let count = async {
            with_pool!(self, pool => sqlx::query_scalar::<_, i64>(SQL)
                .bind(&serial)
                .bind(key_id)
                .fetch_one(pool)
                .await)
        };
        Ok(self.bounded(count).await? > 0)
    }

    /// Whether an identity is revoked under its key id or under its provider subject (what
    /// `bastion ca revoke --identity` records).
    ///
    /// # Errors
    /// [`AuditError`] when the store cannot answer.
    pub async fn is_identity_revoked(
        &self,
        key_id: &str,
        subject: &str,
    ) -> Result<bool, AuditError> {
        if self.is_key_id_revoked(key_id).await? {
            return Ok(true);
        }
        Ok(subject != key_id && self.is_key_id_revoked(subject).await?)
    }

    /// Whether a revocation names this key id (the API issues nothing to a revoked identity).
    pub async fn is_key_id_revoked(&self, key_id: &str) -> Result<bool, AuditError> {
        const SQL: &str = "SELECT COUNT(*) FROM revocations WHERE key_id = $1";
        let count = async {
            with_pool!(self, pool => sqlx::query_scalar::<_, i64>(SQL)
                .bind(key_id)
                .fetch_one(pool)
                .await)
        };
        Ok(self.bounded(count).await? > 0)
    }

    /// The key ids of certificates issued for a token subject (`bastion ca revoke --identity`).
    pub async fn key_ids_of_subject(&self, subject: &str) -> Result<Vec<String>, AuditError> {
        const SQL: &str =
            "SELECT DISTINCT key_id FROM certificates WHERE requester = $1 OR key_id = $1";
        let rows = async {
            with_pool!(self, pool => sqlx::query_scalar::<_, String>(SQL)
                .bind(subject)
                .fetch_all(pool)
                .await)
        };
        self.bounded(rows).await
    }

    /// Issued certificates matching `f` (user = key id; target ignored), oldest first.
    pub async fn certificates(&self, f: &Filter) -> Result<Vec<CertificateRow>, AuditError> {
        let limit = f.limit.map_or(i64::MAX, i64::from);
        let raw: Vec<RawCertificate> = with_pool!(self, pool => sqlx::query_as(CERTIFICATES)
            .bind(f.since_ms)
            .bind(&f.user)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(|e| self.query_error(e))?;
        raw.into_iter()
            .rev()
            .map(|r| {
                let principals =
                    serde_json::from_str(&r.principals).map_err(|_| AuditError::BadRow {
                        url: self.url.to_string(),
                        table: "certificates",
                        row: r.id.to_string(),
                        field: "principals",
                        value: r.principals.clone(),
                    })?;
                Ok(CertificateRow {
                    id: r.id,
                    serial: r.serial,
                    key_id: r.key_id,
                    principals,
                    public_key: r.public_key,
                    valid_after_ms: r.valid_after_ms,
                    valid_before_ms: r.valid_before_ms,
                    source: r.source,
                    requester: r.requester,
                    issued_at_ms: r.issued_at_ms,
                    revoked: r.revoked > 0,
                })
            })
            .collect()
    }
}
