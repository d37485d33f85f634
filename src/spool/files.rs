//! Spool files: open (or quarantine) a redb file, load our own records at start, adopt orphaned files of
//! exited or crashed processes.

use super::*;

pub(super) enum OpenError {
    Locked,
    Bad(String),
}

impl OpenError {
    pub(super) fn text(&self) -> String {
        match self {
            OpenError::Locked => "locked".into(),
            OpenError::Bad(e) => e.clone(),
        }
    }
}

/// redb reports damage as errors; a panic inside it on a hostile file must not take the site down either.
pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, OpenError>) -> Result<T, OpenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| Err(OpenError::Bad("panic while opening".into())))
}

pub(super) fn open_db(path: &Path, create: bool) -> Result<Database, OpenError> {
    let mut b = Database::builder();
    b.set_cache_size(CACHE_BYTES);
    let r = if create { b.create(path) } else { b.open(path) };
    let db = r.map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => OpenError::Locked,
        e => OpenError::Bad(e.to_string()),
    })?;
    // Make sure the table exists and is readable end to end (a truncated tree fails here, not later).
    let check = || -> Result<(), redb::Error> {
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        let read = db.begin_read()?;
        let t = read.open_table(TABLE)?;
        for item in t.iter()? {
            item?;
        }
        Ok(())
    };
    check().map_err(|e| OpenError::Bad(e.to_string()))?;
    Ok(db)
}

pub(super) fn quarantine(stats: &Stats, path: &Path, why: &str) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{}", crate::pipeline::unix_ms_now()));
    let moved = std::fs::rename(path, &aside).is_ok();
    stats.quarantined_files.fetch_add(1, Relaxed);
    log::error(format!(
        "xmcdp: spool file {} is unreadable ({why}); {}",
        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        if moved { "renamed aside as *.corrupt-*" } else { "it could not be renamed aside" }
    ));
}

/// Spool files of our client key in the directory (other than `own`), oldest first, so older events replay first.
pub(super) fn orphan_candidates(cfg: &SpoolConfig, own: Option<&Path>) -> Vec<PathBuf> {
    let prefix = format!("{PREFIX}{}-", cfg.client_key);
    let Ok(dir) = std::fs::read_dir(&cfg.directory) else { return Vec::new() };
    let mut candidates: Vec<PathBuf> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| Some(p.as_path()) != own)
        // Empty: a file being created (redb locks it before it writes the header), not an orphan. Opening it would
        // fail and set it aside as corrupt under its owner; a scan every second makes that window worth closing.
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(EXT)).is_some_and(|r| {
                let mut parts = r.split('-');
                matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None)
                    if !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
            })
        })
        .collect();
    candidates.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    candidates
}

/// At start, the oldest orphan whose lock we can take becomes our own file, rather than being copied into a new
/// one: a restart after a crash then needs no copy, and the directory never holds the records twice (a copy made
/// the directory about twice `spoolMaxBytes` while it lasted).
pub(super) fn take_over(cfg: &SpoolConfig, stats: &Stats) -> Option<(PathBuf, Database)> {
    for path in orphan_candidates(cfg, None) {
        match guarded(|| open_db(&path, false)) {
            Err(OpenError::Locked) => {}
            Err(OpenError::Bad(e)) => quarantine(stats, &path, &e),
            Ok(db) => return Some((path, db)),
        }
    }
    None
}

/// A new file of our own: `xmcdp-spool-{clientKey}-{pid}-{n}.redb`. A name can be taken by a live process that
/// took over a dead one's file with our pid (`take_over`): then the next `n`.
pub(super) fn create_own(cfg: &SpoolConfig, stats: &Stats) -> Result<(PathBuf, Database), String> {
    let mut last = String::new();
    for _ in 0..16 {
        let n = INSTANCE.fetch_add(1, Relaxed);
        let path = cfg.directory.join(format!("{PREFIX}{}-{}-{n}{EXT}", cfg.client_key, std::process::id()));
        match guarded(|| open_db(&path, true)) {
            Ok(db) => return Ok((path, db)),
            Err(OpenError::Locked) => last = "the spool file is locked by another client".into(),
            Err(OpenError::Bad(e)) => {
                // Our own name but unreadable (a crashed process with a reused pid left garbage): set it aside.
                quarantine(stats, &path, &e);
                return guarded(|| open_db(&path, true)).map(|db| (path, db)).map_err(|e| format!("cannot create the spool file: {}", e.text()));
            }
        }
    }
    Err(last)
}

impl Writer {
    /// A file taken over from its dead owner: its journal rows (events that were still in the owner's lanes, newer
    /// than its spooled ones of the same visitor) join the spooled records behind them, before our own journal
    /// writes to that table. Then `load_own` counts them all.
    pub(super) fn spool_inherited_journal(&mut self) {
        let r = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut j = txn.open_table(JOURNAL)?;
                let mut t = txn.open_table(TABLE)?;
                let mut key = t.last()?.map_or(0, |(k, _)| k.value() + 1);
                let rows = j.iter()?.map(|i| i.map(|(_, v)| v.value().to_vec())).collect::<Result<Vec<_>, _>>()?;
                for v in rows {
                    t.insert(key, v.as_slice())?;
                    key += 1;
                }
                j.retain(|_, _| false)?;
            }
            txn.commit()?;
            Ok(())
        })();
        if let Err(e) = r {
            log::error(format!("xmcdp: cannot move the journal of an adopted spool file: {e}"));
        }
    }

    /// Our own file may hold records (a previous process with the same pid): count them, index visitors,
    /// drop records that do not parse.
    pub(super) fn load_own(&mut self) {
        let mut bad = Vec::new();
        let r = (|| -> Result<(), redb::Error> {
            let read = self.db.begin_read()?;
            let t = read.open_table(TABLE)?;
            for item in t.iter()? {
                let (k, v) = item?;
                self.next_key = self.next_key.max(k.value() + 1);
                match Record::decode(v.value()) {
                    Some(rec) => {
                        self.count += 1;
                        self.bytes += v.value().len() as u64;
                        self.hold_visitor(&rec.browser_id);
                    }
                    None => bad.push(k.value()),
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            log::error(format!("xmcdp: cannot read the spool: {e}"));
        }
        self.drop_bad(bad);
        self.publish();
    }

    pub(super) fn drop_bad(&mut self, bad: Vec<u64>) {
        if bad.is_empty() {
            return;
        }
        self.inner.stats.quarantined_records.fetch_add(bad.len() as u64, Relaxed);
        log::emit_once("spool-bad-record", log::Level::Error, "xmcdp: unreadable records in the spool were removed (see stats.spool.quarantined_records)");
        let _ = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut t = txn.open_table(TABLE)?;
                for k in bad {
                    t.remove(k)?;
                }
            }
            txn.commit()?;
            Ok(())
        })();
    }

    /// Spool files of the same client key whose lock can be taken: their owner is gone.
    pub(super) fn adopt_orphans(&mut self) {
        self.last_adopt = Instant::now();
        let candidates = orphan_candidates(&self.inner.cfg, Some(&self.inner.path));
        for path in candidates {
            match guarded(|| open_db(&path, false)) {
                Err(OpenError::Locked) => {}
                Err(OpenError::Bad(e)) => quarantine(&self.inner.stats, &path, &e),
                Ok(orphan) => self.adopt(orphan, &path),
            }
        }
    }

    pub(super) fn adopt(&mut self, orphan: Database, path: &Path) {
        let mut bad = 0u64;
        let mut moved = 0u64;
        let mut requeued = 0u64;
        let r = (|| -> Result<(), redb::Error> {
            let read = orphan.begin_read()?;
            let from = read.open_table(TABLE)?;
            let txn = self.db.begin_write()?;
            {
                let mut to = txn.open_table(TABLE)?;
                // Spooled records first, then the journal (events that were still in the owner's lanes: newer
                // than its spooled ones of the same visitor, which held them back).
                let journal = match read.open_table(JOURNAL) {
                    Ok(j) => Some(j),
                    Err(redb::TableError::TableDoesNotExist(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                let ours_below = self.next_key;
                let rows = from.iter()?.chain(journal.iter().map(|j| j.iter()).collect::<Result<Vec<_>, _>>()?.into_iter().flatten());
                for item in rows {
                    let (_, v) = item?;
                    match Record::decode(v.value()) {
                        Some(rec) => {
                            to.insert(self.next_key, v.value())?;
                            self.next_key += 1;
                            self.count += 1;
                            self.bytes += v.value().len() as u64;
                            self.hold_visitor(&rec.browser_id);
                            moved += 1;
                        }
                        None => bad += 1,
                    }
                }
                // The orphan's owner is the older process (IIS recycle: it stopped taking requests when we
                // started), so its events of a visitor precede ours: the records we spilled ourselves (from
                // `own_from`: not the ones adopted at start, which are older) and have not offered to the pipeline
                // yet move behind the adopted ones, in their own order. Replays already out cannot be called back.
                if moved > 0 {
                    let waiting: Vec<u64> = to
                        .range(self.own_from.min(ours_below)..ours_below)?
                        .map(|item| item.map(|(k, _)| k.value()))
                        .collect::<Result<Vec<u64>, _>>()?
                        .into_iter()
                        .filter(|k| !self.in_flight.contains(k) && !self.delivered.contains(k))
                        .collect();
                    for k in waiting {
                        let Some(v) = to.remove(k)? else { continue };
                        let bytes = v.value().to_vec();
                        drop(v);
                        to.insert(self.next_key, bytes.as_slice())?;
                        self.next_key += 1;
                        requeued += 1;
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })();
        drop(orphan);
        match r {
            Ok(()) => {
                // Copied and committed first, deleted second: a crash in between replays twice (deduplicated by
                // id), never zero times.
                let _ = std::fs::remove_file(path);
                self.inner.stats.adopted_files.fetch_add(1, Relaxed);
                self.inner.stats.adopted_events.fetch_add(moved, Relaxed);
                self.inner.stats.quarantined_records.fetch_add(bad, Relaxed);
                if moved > 0 {
                    log::info(format!("xmcdp: adopted {moved} spooled events from an orphaned spool file ({requeued} of ours moved behind them)"));
                }
            }
            Err(e) => quarantine(&self.inner.stats, path, &e.to_string()),
        }
        self.publish();
    }
}

/// An in-memory database used only to release the file handle before the writer thread ends.
pub(super) fn placeholder_db() -> Database {
    Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).expect("in-memory redb")
}
