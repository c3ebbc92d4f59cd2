//! Errors at the store's boundary.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("displayId {0:?} is already in use")]
    DisplayIdTaken(String),
    #[error("domain {0:?} belongs to another team")]
    DomainTaken(String),
    #[error("domain {0:?} is not a host name in its one form (model::DomainName)")]
    DomainNotNormal(String),
    /// A code on a custom domain its team does not have at the write (released meanwhile).
    #[error("domain {0:?} is not one of the team's custom domains")]
    DomainNotTeams(String),
    /// A team's change releases a custom domain that live codes of the team are on.
    #[error("domain {domain:?} still has {live} live QR codes")]
    DomainInUse { domain: String, live: u64 },
    #[error("a member with email {0:?} already exists")]
    EmailTaken(String),
    #[error("the team has reached its plan's limit of {0} live QR codes")]
    CodeLimit(u64),
    #[error("the organization has reached its plan's limit of {0} teams")]
    TeamLimit(u64),
    #[error("not found")]
    NotFound,
    /// A precondition on the record's version failed (`If-Match`): nothing was written.
    #[error("the record is at version {current}, which the precondition does not admit")]
    Stale { current: u64 },
    /// An edit refused to apply to the record as stored; the caller's own reason.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync>),
    /// A record written by so many writers at once that a Redis write lost every attempt.
    #[error("the record is being changed by too many writers at once; try again")]
    Contended,
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    #[error("the record {key} in the store's {table} table could not be read: {source}")]
    CorruptRecord {
        table: String,
        key: String,
        source: serde_json::Error,
    },
    #[error("the Redis key {key:?} holds a record that could not be read: {source}")]
    CorruptRedisRecord {
        key: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    LostStore(#[from] crate::data_dir::LostStore),
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    #[error("the store (Redis) is unavailable: {0}")]
    Redis(#[from] redis::RedisError),
}

from_redb_errors!(StoreError);
