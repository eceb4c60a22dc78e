//! The redb store: layout on disk, format versioning, and the mapping of redb's errors.

use std::fs::{self, File};
use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ocpp_core::persist::{Snapshot, StoreOp};
use redb::{
    Builder, Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition,
    TableHandle, WriteTransaction,
};

use crate::{RecordStore, StoreError};

/// The newest format version this build writes and reads.
///
/// Version 1: a meta table `ocpp_store_meta` (`&str` keys, byte values) holding
/// `format_version` (a big-endian `u32`) and `created_by` (UTF-8, the crate and version that
/// created the file); one table `records/<collection>` per collection, with the record keys as
/// UTF-8 bytes and the record values as given.
pub const FORMAT_VERSION: u32 = 1;

/// The steps from each older format version to the next, in order: `MIGRATIONS[i]` turns
/// version `i + 1` into version `i + 2`. Version 1 is the first, so there is none yet; a layout
/// change appends one here and bumps [`FORMAT_VERSION`].
const MIGRATIONS: &[Migration] = &[];

const _: () = assert!(MIGRATIONS.len() as u32 + 1 == FORMAT_VERSION);

/// One step of the migration chain, run inside the transaction that also records the new
/// version, so a file is either fully at the old version or fully at the new one.
#[derive(Clone, Copy)]
pub(crate) struct Migration {
    /// What the step does, for error messages.
    pub(crate) name: &'static str,
    /// Rewrites the tables of version `n` into those of version `n + 1`.
    pub(crate) run: fn(&WriteTransaction) -> Result<(), redb::Error>,
}

/// The meta table. Its name cannot collide with a record table, which all start with
/// [`RECORD_PREFIX`].
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("ocpp_store_meta");
/// Prefix of the table names that hold collections.
pub(crate) const RECORD_PREFIX: &str = "records/";
/// Meta key of the format version.
pub(crate) const META_FORMAT_VERSION: &str = "format_version";
/// Meta key of the creation marker.
pub(crate) const META_CREATED_BY: &str = "created_by";

/// The first bytes of every redb file (redb's file format 3, the one of redb 2 to 4).
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// redb keeps a page cache; the records of a charger are small, so a modest one suffices.
const CACHE_BYTES: usize = 16 << 20;

type RecordTable<'txn> = Table<'txn, &'static [u8], &'static [u8]>;

fn record_table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// A [`RecordStore`] in one redb file.
///
/// See the [crate docs](crate) for the obligations of the caller. Opening takes an exclusive
/// lock on the file (released when the value is dropped), verifies the checksum of every page,
/// and migrates an older format in place; [`RedbStore::apply`] commits each call in one write
/// transaction with immediate durability and two-phase commit.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    failed: bool,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the store at `path`, creating it if no file exists there.
    ///
    /// A new file is built under `<path>.creating` and moved to `path` only once it is
    /// complete and synced, so a crash during creation never leaves a half-made store at
    /// `path`. The directory must exist.
    ///
    /// # Errors
    ///
    /// Every [`StoreError`] but [`StoreError::Failed`]; see its table. A panic inside redb on
    /// a damaged file is caught and reported as [`StoreError::Corrupt`].
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        open_with(path.as_ref(), MIGRATIONS)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_inner(&self) -> Result<Snapshot, StoreError> {
        let err = |e: redb::Error| map_error(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let mut snapshot = Snapshot::new();
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(|e| err(e.into()))?
            .map(|t| t.name().to_owned())
            .collect();
        for name in tables {
            if name == META.name() {
                continue;
            }
            let Some(collection) = name.strip_prefix(RECORD_PREFIX) else {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("unexpected table {name:?} beside the record tables"),
                });
            };
            let table = txn
                .open_table(record_table(&name))
                .map_err(|e| err(e.into()))?;
            for entry in table.iter().map_err(|e| err(e.into()))? {
                let (key, value) = entry.map_err(|e| err(e.into()))?;
                let key =
                    String::from_utf8(key.value().to_vec()).map_err(|_| StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: format!("a key in collection {collection:?} is not UTF-8"),
                    })?;
                snapshot.insert(collection, key, value.value().to_vec());
            }
        }
        Ok(snapshot)
    }

    fn apply_inner(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e: redb::Error| map_error(&path, e);
        let mut txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| err(e.into()))?;
        txn.set_two_phase_commit(true);
        {
            // The tables opened so far in this transaction, so that a batch of ops on one
            // collection opens it once.
            let mut open: Vec<(&'static str, RecordTable<'_>)> = Vec::new();
            for op in ops {
                let collection = op.collection();
                match op {
                    StoreOp::Put { key, value, .. } => {
                        let table = table_for(&txn, &mut open, collection).map_err(&err)?;
                        table
                            .insert(key.as_bytes(), value.as_slice())
                            .map_err(|e| err(e.into()))?;
                    }
                    StoreOp::Delete { key, .. } => {
                        let table = table_for(&txn, &mut open, collection).map_err(&err)?;
                        table.remove(key.as_bytes()).map_err(|e| err(e.into()))?;
                    }
                    StoreOp::Clear { .. } => {
                        // A table must be closed before it can be deleted.
                        open.retain(|(name, _)| *name != collection);
                        let name = format!("{RECORD_PREFIX}{collection}");
                        txn.delete_table(record_table(&name))
                            .map_err(|e| err(e.into()))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| err(e.into()))
    }
}

/// The table of `collection` in this transaction, opened (or created) once.
fn table_for<'a, 'txn>(
    txn: &'txn WriteTransaction,
    open: &'a mut Vec<(&'static str, RecordTable<'txn>)>,
    collection: &'static str,
) -> Result<&'a mut RecordTable<'txn>, redb::Error> {
    let index = match open.iter().position(|(name, _)| *name == collection) {
        Some(index) => index,
        None => {
            let name = format!("{RECORD_PREFIX}{collection}");
            let table = txn.open_table(record_table(&name))?;
            open.push((collection, table));
            open.len() - 1
        }
    };
    Ok(&mut open[index].1)
}

impl RecordStore for RedbStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        contain(&self.path, || self.load_inner())
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::Failed {
                path: self.path.clone(),
            });
        }
        if ops.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let result = contain(&path, || self.apply_inner(ops));
        if result.is_err() {
            // Whether a failed commit reached the disk is not known here; only a reopen
            // finds out.
            self.failed = true;
        }
        result
    }
}

/// Runs `f`, turning a panic (redb may panic on some damaged files) into [`StoreError::Corrupt`].
fn contain<T>(path: &Path, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            Err(StoreError::Corrupt {
                path: path.to_owned(),
                detail: format!("redb panicked: {message}"),
            })
        }
    }
}

/// [`RedbStore::open`] with a given migration chain; the tests pass longer chains.
pub(crate) fn open_with(path: &Path, migrations: &[Migration]) -> Result<RedbStore, StoreError> {
    let supported = migrations.len() as u32 + 1;
    contain(path, || {
        let io = |source: io::Error| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        match fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => create(path, supported)?,
            Err(e) => return Err(io(e)),
        }
        check_magic(path)?;
        let mut db = Builder::new()
            .set_cache_size(CACHE_BYTES)
            .open(path)
            .map_err(|e| map_error(path, e.into()))?;
        // Every page is read and its checksum verified: redb only does this by itself after an
        // unclean shutdown. Since every commit uses two-phase commit, a failed check is an
        // error, never a roll-back to an older commit. `Ok(false)` means that redb rebuilt its
        // record of free pages, which loses nothing.
        db.check_integrity()
            .map_err(|e| map_error(path, e.into()))?;
        check_format(path, &db, migrations, supported)?;
        Ok(RedbStore {
            db,
            path: path.to_owned(),
            failed: false,
        })
    })
}

/// Creates an empty store of format `version` at `path`, atomically.
fn create(path: &Path, version: u32) -> Result<(), StoreError> {
    let io = |source: io::Error| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let Some(file_name) = path.file_name() else {
        return Err(io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        )));
    };
    let mut temp_name = file_name.to_owned();
    temp_name.push(".creating");
    let temp = path.with_file_name(temp_name);
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    {
        let db = Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&temp)
            .map_err(|e| map_error(path, e.into()))?;
        let err = |e: redb::Error| map_error(path, e);
        let mut txn = db.begin_write().map_err(|e| err(e.into()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| err(e.into()))?;
        txn.set_two_phase_commit(true);
        {
            let mut meta = txn.open_table(META).map_err(|e| err(e.into()))?;
            meta.insert(META_FORMAT_VERSION, &version.to_be_bytes()[..])
                .map_err(|e| err(e.into()))?;
            let created_by = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"));
            meta.insert(META_CREATED_BY, created_by.as_bytes())
                .map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))?;
    }
    // Link rather than rename: if another process created `path` meanwhile, its file wins.
    match fs::hard_link(&temp, path) {
        Ok(()) => fs::remove_file(&temp).map_err(io)?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(&temp).map_err(io)?;
        }
        // Some file systems have no hard links.
        Err(_) => fs::rename(&temp, path).map_err(io)?,
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(())
}

/// Refuses a file that redb would not recognise, with a clearer error than redb's.
fn check_magic(path: &Path) -> Result<(), StoreError> {
    let mut file = File::open(path).map_err(|source| StoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut head = Vec::with_capacity(REDB_MAGIC.len());
    file.by_ref()
        .take(REDB_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
    if head.is_empty() {
        // Never initialise an empty file: a store cut to nothing must not look like a first
        // start. Creation never leaves an empty file at `path`.
        return Err(StoreError::Truncated {
            path: path.to_owned(),
            detail: "the file is empty".to_owned(),
        });
    }
    if head != REDB_MAGIC {
        return Err(StoreError::NotADatabase {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Reads the meta table; refuses newer formats and other programs' files; migrates older ones.
fn check_format(
    path: &Path,
    db: &Database,
    migrations: &[Migration],
    supported: u32,
) -> Result<(), StoreError> {
    let err = |e: redb::Error| map_error(path, e);
    let found = {
        let txn = db.begin_read().map_err(|e| err(e.into()))?;
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(|e| err(e.into()))?
            .map(|t| t.name().to_owned())
            .collect();
        if !tables.iter().any(|t| t == META.name()) {
            return Err(StoreError::Foreign {
                path: path.to_owned(),
                tables: if tables.is_empty() {
                    "none".to_owned()
                } else {
                    tables.join(", ")
                },
            });
        }
        let meta = txn.open_table(META).map_err(|e| err(e.into()))?;
        let version = meta
            .get(META_FORMAT_VERSION)
            .map_err(|e| err(e.into()))?
            .ok_or_else(|| StoreError::Corrupt {
                path: path.to_owned(),
                detail: "the meta table has no format version".to_owned(),
            })?;
        let bytes: [u8; 4] = version
            .value()
            .try_into()
            .map_err(|_| StoreError::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "the format version is {} bytes long, not 4",
                    version.value().len()
                ),
            })?;
        u32::from_be_bytes(bytes)
    };
    if found == 0 {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            detail: "format version 0 does not exist".to_owned(),
        });
    }
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    if found < supported {
        let mut txn = db.begin_write().map_err(|e| err(e.into()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| err(e.into()))?;
        txn.set_two_phase_commit(true);
        for step in &migrations[found as usize - 1..] {
            (step.run)(&txn).map_err(|e| StoreError::Corrupt {
                path: path.to_owned(),
                detail: format!("migration {:?} failed: {e}", step.name),
            })?;
        }
        {
            let mut meta = txn.open_table(META).map_err(|e| err(e.into()))?;
            meta.insert(META_FORMAT_VERSION, &supported.to_be_bytes()[..])
                .map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))?;
    }
    Ok(())
}

/// Sorts redb's errors into the variants of [`StoreError`].
fn map_error(path: &Path, error: redb::Error) -> StoreError {
    let path = path.to_owned();
    match error {
        redb::Error::DatabaseAlreadyOpen => StoreError::Locked { path },
        redb::Error::Io(source) => match source.kind() {
            io::ErrorKind::UnexpectedEof => StoreError::Truncated {
                path,
                detail: source.to_string(),
            },
            io::ErrorKind::InvalidData => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => StoreError::Io { path, source },
        },
        redb::Error::ValueTooLarge(len) => StoreError::Io {
            path,
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a record of {len} bytes exceeds redb's limit"),
            ),
        },
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => StoreError::Failed { path },
        // redb says so in words only ("File truncated below stored layout: ..."); the error
        // tests pin the wording.
        redb::Error::Corrupted(detail) if detail.to_ascii_lowercase().contains("truncated") => {
            StoreError::Truncated { path, detail }
        }
        other => StoreError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ocpp-store-unit-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("store.redb")
    }

    fn put(collection: &'static str, key: &str, value: &[u8]) -> StoreOp {
        StoreOp::Put {
            collection,
            key: key.to_owned(),
            value: value.to_vec(),
        }
    }

    /// A version 2 that stores the values of collection "names" upper-cased.
    fn upper_case_names(txn: &WriteTransaction) -> Result<(), redb::Error> {
        let mut table = txn.open_table(record_table("records/names"))?;
        let mut changed = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            changed.push((key.value().to_vec(), value.value().to_ascii_uppercase()));
        }
        for (key, value) in changed {
            table.insert(key.as_slice(), value.as_slice())?;
        }
        Ok(())
    }

    fn failing_step(_: &WriteTransaction) -> Result<(), redb::Error> {
        Err(redb::Error::Corrupted("this step always fails".to_owned()))
    }

    fn stored_version(path: &Path) -> u32 {
        let db = Database::open(path).unwrap();
        let txn = db.begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        let value = meta.get(META_FORMAT_VERSION).unwrap().unwrap();
        u32::from_be_bytes(value.value().try_into().unwrap())
    }

    #[test]
    fn an_older_format_is_migrated_in_place_through_the_chain() {
        let path = temp_path("migrate");
        let mut store = open_with(&path, &[]).unwrap();
        store.apply(&[put("names", "1", b"alice")]).unwrap();
        drop(store);
        assert_eq!(stored_version(&path), 1);

        let chain = [Migration {
            name: "upper-case names",
            run: upper_case_names,
        }];
        let store = open_with(&path, &chain).unwrap();
        assert_eq!(store.load().unwrap().get("names", "1"), Some(&b"ALICE"[..]));
        drop(store);
        assert_eq!(stored_version(&path), 2);
        // Migrated once: a second open runs no step.
        let store = open_with(&path, &chain).unwrap();
        assert_eq!(store.load().unwrap().get("names", "1"), Some(&b"ALICE"[..]));
        drop(store);
        // And this build's chain now refuses the file.
        match open_with(&path, &[]) {
            Err(StoreError::TooNew {
                found: 2,
                supported: 1,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_failed_migration_leaves_the_file_at_its_old_version() {
        let path = temp_path("migrate-fail");
        let mut store = open_with(&path, &[]).unwrap();
        store.apply(&[put("names", "1", b"alice")]).unwrap();
        drop(store);
        let chain = [
            Migration {
                name: "upper-case names",
                run: upper_case_names,
            },
            Migration {
                name: "always fails",
                run: failing_step,
            },
        ];
        match open_with(&path, &chain) {
            Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("always fails")),
            other => panic!("{other:?}"),
        }
        assert_eq!(stored_version(&path), 1);
        let store = open_with(&path, &[]).unwrap();
        assert_eq!(store.load().unwrap().get("names", "1"), Some(&b"alice"[..]));
        drop(store);
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_handle_whose_write_failed_refuses_further_writes() {
        let path = temp_path("failed");
        let mut store = open_with(&path, &[]).unwrap();
        store.failed = true;
        match store.apply(&[put("names", "1", b"alice")]) {
            Err(StoreError::Failed { path: p }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        drop(store);
        // A reopened handle writes again.
        let mut store = open_with(&path, &[]).unwrap();
        store.apply(&[put("names", "1", b"alice")]).unwrap();
        drop(store);
        fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_panic_inside_is_contained_as_corrupt() {
        let path = Path::new("/nowhere/store.redb");
        let result: Result<(), StoreError> = contain(path, || panic!("index out of bounds"));
        match result {
            Err(StoreError::Corrupt { detail, .. }) => {
                assert_eq!(detail, "redb panicked: index out of bounds")
            }
            other => panic!("{other:?}"),
        }
    }
}
