//! A change of a stored record is a function the store applies to the record as it is at the
//! write, inside the write (one redb write transaction; on Redis a script that writes only if
//! the version read is still the stored one, else the function runs again): never the
//! replacement of a copy read earlier, which would undo the changes made since.

use std::sync::Arc;

use super::StoreError;
use crate::model::Versioned;

/// Changes a record in place, or refuses (`StoreError::Refused` carries the caller's reason,
/// `StoreError::Stale` a failed precondition). It may run more than once for one write (Redis
/// retries after a concurrent one), so it must only compute from the record it is given.
pub type Edit<T> = Arc<dyn Fn(&mut T) -> Result<(), StoreError> + Send + Sync>;

/// An [`Edit`] from a closure.
pub fn edit<T>(
    change: impl Fn(&mut T) -> Result<(), StoreError> + Send + Sync + 'static,
) -> Edit<T> {
    Arc::new(change)
}

/// Times a Redis write is tried again after a concurrent write of the same record got in
/// between its read and its script. Each lost round means another writer's round succeeded, so
/// this bounds only a record written by more than this many writers at once.
pub(super) const ATTEMPTS: usize = 100;

/// Runs `attempt` (a Redis read, then its version-checked script) until it writes: `Ok(None)`
/// means another write got in between, so it runs again, at most [`ATTEMPTS`] times, then
/// `Contended`.
pub(super) async fn until_written<R, A>(mut attempt: impl FnMut() -> A) -> Result<R, StoreError>
where
    A: std::future::Future<Output = Result<Option<R>, StoreError>>,
{
    for _ in 0..ATTEMPTS {
        if let Some(written) = attempt().await? {
            return Ok(written);
        }
    }
    Err(StoreError::Contended)
}

/// The record `edit` makes of `current`, with the next version; None when it changed nothing
/// (nothing is written then, and the version stays).
pub(super) fn apply<T: Clone + PartialEq + Versioned>(
    current: &T,
    edit: &Edit<T>,
) -> Result<Option<T>, StoreError> {
    let mut next = current.clone();
    edit(&mut next)?;
    next.set_version(current.version());
    if next == *current {
        return Ok(None);
    }
    next.set_version(current.version() + 1);
    Ok(Some(next))
}

/// The record as first written: at the first version, whatever the caller set.
pub(super) fn as_new<T: Clone + Versioned>(record: &T) -> std::borrow::Cow<'_, T> {
    if record.version() == crate::model::FIRST_VERSION {
        return std::borrow::Cow::Borrowed(record);
    }
    let mut first = record.clone();
    first.set_version(crate::model::FIRST_VERSION);
    std::borrow::Cow::Owned(first)
}

/// What a record must be, as stored at the write, for a delete to apply: it runs inside the
/// delete (the embedded store's transaction; on Redis before a script that deletes only the
/// version read, else it runs again), and its refusal (`StoreError::Refused`, `Stale`) deletes
/// nothing.
pub type Check<T> = Arc<dyn Fn(&T) -> Result<(), StoreError> + Send + Sync>;

/// A [`Check`] from a closure.
pub fn check<T>(
    condition: impl Fn(&T) -> Result<(), StoreError> + Send + Sync + 'static,
) -> Check<T> {
    Arc::new(condition)
}

/// A [`Check`] every record passes.
pub fn unchecked<T>() -> Check<T> {
    Arc::new(|_| Ok(()))
}
