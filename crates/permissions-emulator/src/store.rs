//! The emulator's state: an in-memory index that serves every read, and, with a
//! database file, SQLite as the durable copy every write goes through first.
//!
//! Writes are serialized by one mutex (the [`Writer`]): a write is validated against
//! the index, committed to SQLite (when there is a database), and only then applied
//! to the index. A write that fails in SQLite leaves the index untouched, so nothing
//! is ever half-written, and a write is acknowledged only once SQLite has it.
//!
//! Order: permissions of a checkpoint are ordered by `(created_at, seq)`, where `seq`
//! is a global insertion counter; it breaks ties between permissions created in the
//! same second, so pages never overlap or skip. Deleted permissions are kept as
//! tombstones (their position only), so a deleted id still works as an `after` cursor.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use permissions_types::{CheckpointId, CheckpointPermission, ListOrder, PermissionId, ProjectId};
use rand::distr::{Alphanumeric, SampleString};
use rand::{SeedableRng, rngs::StdRng};
use rusqlite::{Connection, params};

use crate::error::Error;
use crate::rules::ID_RANDOM_LEN;

/// A permission to add as it is given (from a seed file, say).
#[derive(Clone, Debug)]
pub(crate) struct Import {
    pub(crate) checkpoint: CheckpointId,
    pub(crate) project_id: ProjectId,
    /// Its id; a fresh one when `None`.
    pub(crate) id: Option<PermissionId>,
    /// Unix seconds; now when `None`.
    pub(crate) created_at: Option<i64>,
}

/// Position of a permission in its checkpoint's order.
type Key = (i64, u64);

/// One live permission, with its JSON form serialized once so that list pages are
/// assembled by copying bytes.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) permission: CheckpointPermission,
    pub(crate) json: Box<[u8]>,
}

impl Record {
    fn new(id: String, project_id: String, created_at: i64) -> Result<Self, Error> {
        let permission = CheckpointPermission::new(id, project_id, created_at);
        let json = serde_json::to_vec(&permission)?.into_boxed_slice();
        Ok(Self { permission, json })
    }
}

#[derive(Debug, Default)]
struct Checkpoint {
    /// Live permissions in order.
    live: BTreeMap<Key, Arc<Record>>,
    /// Every id ever created on this checkpoint, deleted ones included.
    positions: HashMap<String, Key>,
    /// Live permission of each project.
    by_project: HashMap<String, Key>,
}

#[derive(Debug, Default)]
struct Index {
    checkpoints: HashMap<String, Checkpoint>,
    /// Every id ever issued, so a new id never repeats an old one.
    ids: HashMap<String, ()>,
}

impl Index {
    fn insert(&mut self, checkpoint: &str, seq: u64, record: Arc<Record>, live: bool) {
        let key = (record.permission.created_at, seq);
        let entry = self.checkpoints.entry(checkpoint.to_owned()).or_default();
        entry.positions.insert(record.permission.id.clone(), key);
        self.ids.insert(record.permission.id.clone(), ());
        if live {
            entry
                .by_project
                .insert(record.permission.project_id.clone(), key);
            entry.live.insert(key, record);
        }
    }
}

/// Why a read or write was refused.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The `after` cursor names no permission (live or deleted) of the checkpoint.
    UnknownCursor,
    /// No live permission with that id on that checkpoint.
    NotFound,
    /// The durable store failed; nothing was changed.
    Storage(Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Storage(Error::Database(error))
    }
}

/// The part of the store only one write at a time may use.
struct Writer {
    db: Option<Connection>,
    rng: StdRng,
    next_seq: u64,
}

/// The emulator's permissions: read concurrently, written one at a time.
pub(crate) struct Store {
    index: RwLock<Index>,
    writer: Mutex<Writer>,
    persistent: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS permissions (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    checkpoint  TEXT    NOT NULL,
    project_id  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS permissions_live_grant
    ON permissions (checkpoint, project_id) WHERE deleted_at IS NULL;
";

/// The current time, Unix seconds.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    /// An empty store kept in memory only.
    pub(crate) fn memory() -> Self {
        Self {
            index: RwLock::new(Index::default()),
            writer: Mutex::new(Writer {
                db: None,
                rng: StdRng::from_os_rng(),
                next_seq: 1,
            }),
            persistent: false,
        }
    }

    /// A store backed by the SQLite file at `path` (created when missing), in WAL
    /// mode, with its content loaded into the index.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let db = Connection::open(path)?;
        // One emulator per file: the index mirrors the file, so another writer would
        // go unseen. The exclusive lock is taken now and held until the emulator stops.
        db.execute_batch("PRAGMA busy_timeout = 1000; PRAGMA locking_mode = EXCLUSIVE;")?;
        db.execute_batch("BEGIN EXCLUSIVE; COMMIT;").map_err(|e| {
            Error::Config(format!(
                "cannot lock {} (is another emulator using it?): {e}",
                path.display()
            ))
        })?;
        // WAL: a commit is in the log file before it is acknowledged, so killing the
        // process loses nothing; `NORMAL` skips the fsync that only power loss needs.
        let mode: String = db.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Config(format!(
                "the database could not switch to WAL mode (got {mode})"
            )));
        }
        db.execute_batch("PRAGMA synchronous = NORMAL;")?;
        db.execute_batch(SCHEMA)?;

        let mut index = Index::default();
        let mut max_seq = 0u64;
        {
            let mut statement = db.prepare(
                "SELECT seq, id, checkpoint, project_id, created_at, deleted_at IS NULL
                 FROM permissions ORDER BY seq",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let seq = u64::try_from(seq)
                    .map_err(|_| Error::Config(format!("corrupt database: seq {seq}")))?;
                let id: String = row.get(1)?;
                let checkpoint: String = row.get(2)?;
                let project_id: String = row.get(3)?;
                let created_at: i64 = row.get(4)?;
                let live: bool = row.get(5)?;
                let record = Arc::new(Record::new(id, project_id, created_at)?);
                index.insert(&checkpoint, seq, record, live);
                max_seq = max_seq.max(seq);
            }
        }
        Ok(Self {
            index: RwLock::new(index),
            writer: Mutex::new(Writer {
                db: Some(db),
                rng: StdRng::from_os_rng(),
                next_seq: max_seq + 1,
            }),
            persistent: true,
        })
    }

    /// Whether writes go to a database file.
    pub(crate) fn is_persistent(&self) -> bool {
        self.persistent
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One page of the live permissions of `checkpoint`, handed to `render` while
    /// the index is read-locked (so no record is cloned nor reference-counted: on the
    /// hot path, shared counters would bounce between cores).
    pub(crate) fn list<R>(
        &self,
        checkpoint: &CheckpointId,
        after: Option<&PermissionId>,
        limit: usize,
        order: ListOrder,
        project_id: Option<&ProjectId>,
        render: impl FnOnce(&[&Record], bool) -> R,
    ) -> Result<R, StoreError> {
        let index = self.read();
        let Some(entry) = index.checkpoints.get(checkpoint.as_str()) else {
            return match after {
                Some(_) => Err(StoreError::UnknownCursor),
                None => Ok(render(&[], false)),
            };
        };
        let cursor = match after {
            Some(id) => Some(
                *entry
                    .positions
                    .get(id.as_str())
                    .ok_or(StoreError::UnknownCursor)?,
            ),
            None => None,
        };
        if let Some(project_id) = project_id {
            // At most one live permission per project and checkpoint.
            let found = entry
                .by_project
                .get(project_id.as_str())
                .filter(|key| match (cursor, order) {
                    (None, _) => true,
                    (Some(c), ListOrder::Ascending) => **key > c,
                    (Some(c), ListOrder::Descending) => **key < c,
                })
                .and_then(|key| entry.live.get(key))
                .filter(|_| limit > 0);
            return Ok(match found {
                Some(record) => render(&[record.as_ref()], false),
                None => render(&[], false),
            });
        }
        // One more than the limit tells whether another page follows.
        let take = limit.saturating_add(1);
        let data: Vec<&Record> = match (order, cursor) {
            (ListOrder::Ascending, None) => {
                entry.live.values().take(take).map(Arc::as_ref).collect()
            }
            (ListOrder::Ascending, Some(c)) => entry
                .live
                .range((Bound::Excluded(c), Bound::Unbounded))
                .take(take)
                .map(|(_, r)| r.as_ref())
                .collect(),
            (ListOrder::Descending, None) => entry
                .live
                .values()
                .rev()
                .take(take)
                .map(Arc::as_ref)
                .collect(),
            (ListOrder::Descending, Some(c)) => entry
                .live
                .range(..c)
                .rev()
                .take(take)
                .map(|(_, r)| r.as_ref())
                .collect(),
        };
        let has_more = data.len() > limit;
        Ok(render(&data[..data.len().min(limit)], has_more))
    }

    /// Grants `checkpoint` to each project of `project_ids` (distinct, in order) that
    /// has no live permission on it yet; returns one permission per project, the
    /// existing one where there was one.
    pub(crate) fn create(
        &self,
        checkpoint: &CheckpointId,
        project_ids: &[ProjectId],
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        let checkpoint = checkpoint.as_str();
        let mut writer = lock(&self.writer);
        let writer = &mut *writer;
        let created_at = now();
        let mut result = Vec::with_capacity(project_ids.len());
        let mut new = Vec::new();
        {
            let index = self.read();
            let entry = index.checkpoints.get(checkpoint);
            for project_id in project_ids {
                let existing = entry.and_then(|e| {
                    e.by_project
                        .get(project_id.as_str())
                        .and_then(|key| e.live.get(key))
                });
                if let Some(record) = existing {
                    result.push(Arc::clone(record));
                    continue;
                }
                let id = loop {
                    let id = format!(
                        "cp_{}",
                        Alphanumeric.sample_string(&mut writer.rng, ID_RANDOM_LEN)
                    );
                    if !index.ids.contains_key(&id) {
                        break id;
                    }
                };
                let seq = writer.next_seq + new.len() as u64;
                let record = Arc::new(
                    Record::new(id, project_id.to_string(), created_at)
                        .map_err(StoreError::Storage)?,
                );
                result.push(Arc::clone(&record));
                new.push((seq, record));
            }
        }
        if new.is_empty() {
            return Ok(result);
        }
        if let Some(db) = writer.db.as_mut() {
            insert_rows(
                db,
                new.iter()
                    .map(|(seq, record)| (checkpoint, *seq, &**record)),
            )
            .map_err(StoreError::Storage)?;
        }
        writer.next_seq += new.len() as u64;
        let mut index = self.write();
        for (seq, record) in new {
            index.insert(checkpoint, seq, record, true);
        }
        Ok(result)
    }

    /// Deletes the live permission `id` of `checkpoint`.
    pub(crate) fn delete(
        &self,
        checkpoint: &CheckpointId,
        id: &PermissionId,
    ) -> Result<(), StoreError> {
        let (checkpoint, id) = (checkpoint.as_str(), id.as_str());
        let mut writer = lock(&self.writer);
        let key = {
            let index = self.read();
            index
                .checkpoints
                .get(checkpoint)
                .and_then(|e| e.positions.get(id).filter(|key| e.live.contains_key(key)))
                .copied()
                .ok_or(StoreError::NotFound)?
        };
        if let Some(db) = writer.db.as_mut() {
            let changed = db.execute(
                "UPDATE permissions SET deleted_at = ?1
                 WHERE id = ?2 AND checkpoint = ?3 AND deleted_at IS NULL",
                params![now(), id, checkpoint],
            )?;
            if changed != 1 {
                return Err(StoreError::Storage(Error::Config(format!(
                    "database and index disagree about {id}"
                ))));
            }
        }
        let mut index = self.write();
        if let Some(entry) = index.checkpoints.get_mut(checkpoint)
            && let Some(record) = entry.live.remove(&key)
        {
            entry.by_project.remove(&record.permission.project_id);
        }
        Ok(())
    }

    /// Adds the permissions that are not there yet: one whose id exists, or whose
    /// project already holds a live permission on the checkpoint, is skipped, so
    /// importing the same seed file into the same database twice changes nothing.
    pub(crate) fn import(&self, seeds: &[Import]) -> Result<usize, Error> {
        let mut writer = lock(&self.writer);
        let writer = &mut *writer;
        let default_created_at = now();
        let mut new: Vec<(String, u64, Arc<Record>)> = Vec::new();
        {
            let index = self.read();
            let mut taken_ids = std::collections::HashSet::new();
            let mut taken_grants = std::collections::HashSet::new();
            for seed in seeds {
                let exists_in_index = index
                    .checkpoints
                    .get(seed.checkpoint.as_str())
                    .is_some_and(|e| e.by_project.contains_key(seed.project_id.as_str()));
                let grant = (seed.checkpoint.as_str(), seed.project_id.as_str());
                if exists_in_index || taken_grants.contains(&grant) {
                    continue;
                }
                let id = match &seed.id {
                    Some(id) if index.ids.contains_key(id.as_str()) => continue,
                    Some(id) => {
                        if !taken_ids.insert(id.to_string()) {
                            return Err(Error::Seed(format!("permission id {id} appears twice")));
                        }
                        id.to_string()
                    }
                    None => loop {
                        let id = format!(
                            "cp_{}",
                            Alphanumeric.sample_string(&mut writer.rng, ID_RANDOM_LEN)
                        );
                        if !index.ids.contains_key(&id) && taken_ids.insert(id.clone()) {
                            break id;
                        }
                    },
                };
                taken_grants.insert(grant);
                let seq = writer.next_seq + new.len() as u64;
                let created_at = seed.created_at.unwrap_or(default_created_at);
                let record = Arc::new(Record::new(id, seed.project_id.to_string(), created_at)?);
                new.push((seed.checkpoint.to_string(), seq, record));
            }
        }
        if let Some(db) = writer.db.as_mut() {
            insert_rows(
                db,
                new.iter()
                    .map(|(checkpoint, seq, record)| (checkpoint.as_str(), *seq, &**record)),
            )?;
        }
        writer.next_seq += new.len() as u64;
        let count = new.len();
        let mut index = self.write();
        for (checkpoint, seq, record) in new {
            index.insert(&checkpoint, seq, record, true);
        }
        Ok(count)
    }

    /// Number of live permissions, over all checkpoints.
    pub(crate) fn len(&self) -> usize {
        self.read().checkpoints.values().map(|e| e.live.len()).sum()
    }
}

/// Writes new permissions in one transaction: all of them, or none if one fails.
fn insert_rows<'a>(
    db: &mut Connection,
    rows: impl Iterator<Item = (&'a str, u64, &'a Record)>,
) -> Result<(), Error> {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO permissions (seq, id, checkpoint, project_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (checkpoint, seq, record) in rows {
            let seq = i64::try_from(seq).map_err(|_| Error::Config("sequence overflow".into()))?;
            insert.execute(params![
                seq,
                record.permission.id,
                checkpoint,
                record.permission.project_id,
                record.permission.created_at
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}
