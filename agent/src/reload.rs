//! Noticing that the `--config` file changed.
//!
//! The file's *directory* is watched, not the file: a Kubernetes ConfigMap volume replaces its
//! files by swapping a `..data` symlink, which a watch on the old file would never see. Any
//! event in the directory wakes [`FileWatch::changed`] once the directory has been quiet for
//! [`SETTLE`], so an editor's truncate-then-write is read once, whole. Whether the contents
//! really changed is for the caller to decide. This module only notices; it neither reads nor
//! applies configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// How long the directory must be quiet before a change is reported.
pub const SETTLE: Duration = Duration::from_millis(250);

/// A watch on the directory of one file.
pub struct FileWatch {
    // Dropping the watcher ends the watch.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
}

impl FileWatch {
    /// Starts watching the directory that holds `file`.
    ///
    /// # Errors
    /// When the OS watch cannot be set up (no such directory, inotify limits).
    pub fn start(file: &Path) -> Result<FileWatch, notify::Error> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (tx, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match &event {
                    Ok(e) => !matches!(e.kind, notify::EventKind::Access(_)),
                    // An error (e.g. a queue overflow) may hide a change: look at the file again.
                    Err(_) => true,
                };
                if relevant {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(FileWatch {
            _watcher: watcher,
            events,
        })
    }

    /// Completes after something changed in the directory and it then stayed quiet for
    /// [`SETTLE`]. Never completes once the watch has ended.
    pub async fn changed(&mut self) {
        if self.events.recv().await.is_none() {
            return std::future::pending().await;
        }
        loop {
            match tokio::time::timeout(SETTLE, self.events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rewrite_and_a_symlink_swap_are_both_noticed() {
        let dir = std::env::temp_dir().join(format!("ksa-reload-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("v1")).unwrap();
        std::fs::create_dir_all(dir.join("v2")).unwrap();
        std::fs::write(dir.join("v1/config.yaml"), "port: 1\n").unwrap();
        std::fs::write(dir.join("v2/config.yaml"), "port: 2\n").unwrap();
        // The ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> v1.
        std::os::unix::fs::symlink("v1", dir.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/config.yaml", dir.join("config.yaml")).unwrap();
        let file = dir.join("config.yaml");
        let mut watch = FileWatch::start(&file).unwrap();
        let within = Duration::from_secs(5);

        // Swap ..data atomically, as the kubelet does.
        std::os::unix::fs::symlink("v2", dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("the symlink swap is noticed");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "port: 2\n");

        // A plain file, rewritten in place.
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, "port: 3\n").unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("replacing the symlink by a file is noticed");
        std::fs::write(&file, "port: 4\n").unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("an in-place rewrite is noticed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
