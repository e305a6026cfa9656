//! Evidence bytes: write-once, content-addressed files under `<data dir>/evidence/`, named by
//! their SHA-256 (`evidence/ab/abcdef...`), for both backends.
//!
//! A file is written to a temporary name, flushed to disk, made read-only and only then
//! renamed into place, so a reader never sees half a file and a crash leaves at most a stray
//! temporary. A file already present is never rewritten: the same bytes have the same name,
//! and different bytes under a name are tampering that `haulwatch audit verify` reports.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Store, StoreError};
use crate::cases::audit::{EvidenceHasher, sha256_hex};

/// Subdirectory of the data directory holding evidence files.
pub const EVIDENCE_DIR: &str = "evidence";

/// Whether `text` is a lowercase-hex SHA-256 digest (the only names a file may have, so a
/// digest can never climb out of the evidence directory).
fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::EvidenceFile {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// The directory evidence files are kept in.
    pub fn evidence_dir(&self) -> PathBuf {
        self.inner.config.data_dir.join(EVIDENCE_DIR)
    }

    /// Where the file with SHA-256 `sha256` lives (whether or not it exists).
    pub fn evidence_path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        if !is_digest(sha256) {
            return Err(StoreError::Invalid(format!(
                "`{}` is not a SHA-256 hex digest",
                sha256.chars().take(80).collect::<String>()
            )));
        }
        let prefix = sha256.get(..2).unwrap_or("00");
        Ok(self.evidence_dir().join(prefix).join(sha256))
    }

    /// Stores `bytes` and returns their SHA-256 (lowercase hex). Durable when it returns: the
    /// file and its directory entry are flushed.
    pub async fn put_evidence_file(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha256 = sha256_hex(bytes);
        let path = self.evidence_path(&sha256)?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_once(&path, &bytes))
            .await
            .map_err(|e| StoreError::Invalid(format!("evidence writer task failed: {e}")))??;
        Ok(sha256)
    }

    /// Reads the file with SHA-256 `sha256` as stored (the caller checks it still hashes to
    /// its name). `NotFound` when it is missing.
    pub async fn read_evidence_file(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.evidence_path(sha256)?;
        let id = sha256.to_string();
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound {
                entity: "evidence file",
                id,
            }),
            Err(e) => Err(io_error(&path, e)),
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("evidence reader task failed: {e}")))?
    }

    /// SHA-256 (lowercase hex) and size of the file stored under `sha256`, read in chunks so
    /// large videos need not fit in memory; `None` when the file is missing.
    pub async fn digest_evidence_file(
        &self,
        sha256: &str,
    ) -> Result<Option<(String, u64)>, StoreError> {
        let path = self.evidence_path(sha256)?;
        tokio::task::spawn_blocking(move || {
            use std::io::Read as _;
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error(&path, e)),
            };
            let mut hasher = EvidenceHasher::new();
            let mut buffer = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut buffer).map_err(|e| io_error(&path, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(buffer.get(..n).unwrap_or_default());
            }
            Ok(Some(hasher.finish()))
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("evidence reader task failed: {e}")))?
    }
}

/// Writes `bytes` to `path` unless a file is already there.
fn write_once(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| StoreError::Invalid("evidence path has no directory".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let temp = dir.join(format!(
        ".{}.tmp-{:016x}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("evidence"),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
        file.write_all(bytes).map_err(|e| io_error(&temp, e))?;
        file.sync_all().map_err(|e| io_error(&temp, e))?;
        let mut permissions = file
            .metadata()
            .map_err(|e| io_error(&temp, e))?
            .permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&temp, permissions).map_err(|e| io_error(&temp, e))?;
        // Another upload of the same bytes may have won the race; its file is identical.
        if path.exists() {
            return Ok(());
        }
        std::fs::rename(&temp, path).map_err(|e| io_error(path, e))?;
        // The rename is durable only once the directory itself is flushed.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(dir, e))
    })();
    if temp.exists() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digests_are_file_names() {
        assert!(is_digest(&sha256_hex(b"x")));
        for bad in ["", "../etc/passwd", &"A".repeat(64), &"0".repeat(63)] {
            assert!(!is_digest(bad), "{bad}");
        }
    }

    #[test]
    fn write_once_keeps_the_first_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ab").join("file");
        write_once(&path, b"first").expect("write");
        write_once(&path, b"second").expect("second write is a no-op");
        assert_eq!(std::fs::read(&path).expect("read"), b"first");
        let leftovers = std::fs::read_dir(dir.path().join("ab"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        assert!(
            std::fs::metadata(&path)
                .expect("meta")
                .permissions()
                .readonly()
        );
    }
}
