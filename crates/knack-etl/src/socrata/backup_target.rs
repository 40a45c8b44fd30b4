//! [`BackupTarget`]: where Socrata snapshots go, an object store and a prefix in it, opened from
//! a location written as a directory path, `file:///dir` or `s3://bucket/prefix`.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

/// Where snapshots go: a store and a prefix inside it (may be empty).
#[derive(Clone)]
pub struct BackupTarget {
    /// The object store (local directory, S3, ...).
    pub store: Arc<dyn ObjectStore>,
    /// The prefix under which `<4x4>/<date>.csv` is written.
    pub prefix: Path,
}

impl std::fmt::Debug for BackupTarget {
    // The store's own Debug may show its credentials; its Display names only the bucket or root.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupTarget")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix.as_ref())
            .finish()
    }
}

impl BackupTarget {
    /// The storage `to` names: a directory path, `file:///dir` (absolute) or
    /// `s3://bucket/prefix`. S3 takes its settings from `aws`, by the names of the AWS
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` + `AWS_ALLOW_HTTP` for an
    /// S3-compatible store: the keys `AmazonS3Builder::from_env` reads), whatever their source;
    /// other names are ignored. A local directory is created, except when `create` is false
    /// (a dry run), which reads a missing directory as an empty one.
    ///
    /// # Errors
    /// A sentence naming what is wrong with `to` or the S3 settings, and the fix.
    pub fn open<'a>(
        to: &str,
        aws: impl IntoIterator<Item = (&'a str, &'a str)>,
        create: bool,
    ) -> Result<Self, String> {
        if let Some(rest) = to.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("name the bucket: s3://bucket/prefix".into());
            }
            let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
            for (name, value) in aws {
                if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                    builder = builder.with_config(key, value);
                }
            }
            let store = builder
                .build()
                .map_err(|e| format!("{e}; check the AWS_* variables"))?;
            let prefix = Path::parse(prefix.trim_end_matches('/'))
                .map_err(|e| format!("the prefix is not a valid object path: {e}"))?;
            return Ok(Self {
                store: Arc::new(store),
                prefix,
            });
        }
        let dir: PathBuf = if let Some(rest) = to.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err("a file URL needs an absolute path: file:///dir".into());
            }
            PathBuf::from(rest)
        } else if to.contains("://") {
            return Err(
                "unsupported storage; use a directory, file:///dir or s3://bucket/prefix".into(),
            );
        } else {
            PathBuf::from(to)
        };
        Self::local(&dir, create)
    }

    fn local(dir: &FsPath, create: bool) -> Result<Self, String> {
        if !create && !dir.exists() {
            return Ok(Self {
                store: Arc::new(object_store::memory::InMemory::new()),
                prefix: Path::default(),
            });
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| e.to_string())?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_open_or_fail_with_the_fix() {
        let none = || std::iter::empty::<(&str, &str)>();
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a/b");
        assert!(BackupTarget::open(plain.to_str().unwrap(), none(), true).is_ok());
        assert!(plain.is_dir(), "the directory is created");
        let url = format!("file://{}", dir.path().join("c").display());
        assert!(BackupTarget::open(&url, none(), true).is_ok());
        let unmade = dir.path().join("dry");
        assert!(BackupTarget::open(unmade.to_str().unwrap(), none(), false).is_ok());
        assert!(!unmade.exists(), "a dry run creates no directory");
        let s3 = BackupTarget::open(
            "s3://bucket/snap/shots/",
            [
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(s3.prefix.as_ref(), "snap/shots");
        assert!(!format!("{s3:?}").contains("s3cr3t-value"), "{s3:?}");
        for (bad, why) in [
            ("gs://bucket/x", "unsupported storage"),
            ("s3:///x", "name the bucket"),
            ("file://relative", "absolute path"),
        ] {
            let e = BackupTarget::open(bad, none(), true).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
