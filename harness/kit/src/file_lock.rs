//! An exclusive lock on a file, shared by every `lsk` process of the machine: one image build,
//! or one function build into a shared target directory, at a time.
//!
//! The OS releases the lock when its holder ends, so a crashed build never leaves it taken.
//! (fs4: std's `File::lock` needs Rust 1.89, newer than the kit's minimum.)

use std::path::{Path, PathBuf};

/// Held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[error("could not lock {path}: {source}")]
pub struct LockError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl FileLock {
    /// Waits (off the async threads) until `path` is locked by this process; creates it and its
    /// directory when missing.
    pub async fn acquire(path: &Path) -> Result<FileLock, LockError> {
        FileLock::acquire_or_wait(path, || {}).await
    }

    /// [`FileLock::acquire`], calling `waiting` first when another holder has the lock (to say
    /// why nothing moves).
    pub async fn acquire_or_wait(
        path: &Path,
        waiting: impl FnOnce(),
    ) -> Result<FileLock, LockError> {
        let failed = |source| LockError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(failed)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(failed)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => return Ok(FileLock { _file: file }),
            Err(fs4::TryLockError::Error(e)) => return Err(failed(e)),
            Err(fs4::TryLockError::WouldBlock) => waiting(),
        }
        tokio::task::spawn_blocking(move || fs4::FileExt::lock(&file).map(|()| file))
            .await
            .map_err(|e| failed(std::io::Error::other(e)))?
            .map(|file| FileLock { _file: file })
            .map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/x.lock");
        let first = FileLock::acquire(&path).await.unwrap();
        let (told, waited) = tokio::sync::oneshot::channel();
        let second = tokio::spawn({
            let path = path.clone();
            async move {
                FileLock::acquire_or_wait(&path, move || told.send(()).unwrap())
                    .await
                    .map(|_| ())
            }
        });
        waited.await.expect("the second is told it waits");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the lock is held by the first");
        drop(first);
        tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second takes the lock once the first drops it")
            .unwrap()
            .unwrap();
    }
}
