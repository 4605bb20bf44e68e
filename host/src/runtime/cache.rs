//! The on-disk cache of compiled components. An entry is keyed by the SHA-256
//! of the component bytes and the engine's compatibility hash, written
//! atomically (temp file + rename), and stored next to a SHA-256 of the
//! artifact itself. An entry whose digest does not match (corrupted or
//! tampered with) is deleted and recompiled, never deserialized: precompiled
//! code is only ever loaded from files this cache wrote and can vouch for.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::{RuntimeError, chain_message};

const ARTIFACT_EXT: &str = "cwasm";
const DIGEST_EXT: &str = "sha256";

/// A directory of compiled components for one engine configuration.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    /// Hex of the engine's compatibility hash: artifacts from another wasmtime
    /// version or configuration get other file names instead of failing.
    engine_hash: String,
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache directory.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, RuntimeError> {
        fs::create_dir_all(dir).map_err(|source| RuntimeError::CacheDir {
            path: dir.to_owned(),
            source,
        })?;
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            engine_hash: engine_compatibility_hex(engine),
        })
    }

    /// The artifact path for a component with the given SHA-256 (hex).
    pub(crate) fn artifact_path(&self, component_sha256: &str) -> PathBuf {
        self.dir.join(format!(
            "{component_sha256}-{}.{ARTIFACT_EXT}",
            self.engine_hash
        ))
    }

    fn digest_path(&self, component_sha256: &str) -> PathBuf {
        self.artifact_path(component_sha256)
            .with_extension(format!("{ARTIFACT_EXT}.{DIGEST_EXT}"))
    }

    /// The cached component, if there is a sound entry for it. A missing
    /// digest, a digest mismatch or an artifact wasmtime refuses removes the
    /// entry and returns `None`, so the caller recompiles.
    pub(crate) fn lookup(&self, engine: &Engine, component_sha256: &str) -> Option<Component> {
        let artifact_path = self.artifact_path(component_sha256);
        let artifact = match fs::read(&artifact_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %artifact_path.display(), %error, "cannot read cached artifact");
                return None;
            }
        };
        let expected = fs::read_to_string(self.digest_path(component_sha256)).unwrap_or_default();
        if expected.trim() != sha256_hex(&artifact) {
            tracing::warn!(
                path = %artifact_path.display(),
                "cached artifact does not match its digest (corrupted or tampered with); recompiling"
            );
            self.remove(component_sha256);
            return None;
        }
        // SAFETY: `Component::deserialize` trusts its input to be an artifact
        // wasmtime produced. These bytes are exactly what `store` wrote (their
        // SHA-256 matches the digest written alongside), they were read into
        // memory before hashing so the file cannot change between the check
        // and the load, and uploads are never accepted in precompiled form.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &artifact) };
        match component {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(
                    path = %artifact_path.display(),
                    error = %chain_message(&error),
                    "cached artifact refused by wasmtime; recompiling"
                );
                self.remove(component_sha256);
                None
            }
        }
    }

    /// Writes the compiled component and its digest. Failure only costs a
    /// recompilation later, so it is logged, not returned.
    pub(crate) fn store(&self, component_sha256: &str, component: &Component) {
        match component.serialize() {
            Ok(artifact) => self.store_artifact(component_sha256, &artifact),
            Err(error) => tracing::warn!(
                dir = %self.dir.display(),
                error = %chain_message(&error),
                "cannot serialize a compiled component for the cache"
            ),
        }
    }

    /// Writes an artifact this host's compiler produced, and its digest.
    pub(crate) fn store_artifact(&self, component_sha256: &str, artifact: &[u8]) {
        // Digest first: an artifact without its digest is discarded on
        // lookup, so a crash between the two writes is harmless.
        let result = write_atomically(
            &self.digest_path(component_sha256),
            sha256_hex(artifact).as_bytes(),
        )
        .and_then(|()| write_atomically(&self.artifact_path(component_sha256), artifact));
        if let Err(error) = result {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot write compiled artifact to cache");
        }
    }

    fn remove(&self, component_sha256: &str) {
        for path in [
            self.artifact_path(component_sha256),
            self.digest_path(component_sha256),
        ] {
            if let Err(error) = fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "cannot remove cache entry");
            }
        }
    }
}

/// Writes `bytes` to `path` so that readers see either the old file or the
/// whole new one: write a unique temp file in the same directory, flush it to
/// disk, rename it over the target.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex of the engine's compatibility hash (first 16 bytes of a SHA-256 over
/// what wasmtime feeds the hasher: version, target, compiler settings).
pub(crate) fn engine_compatibility_hex(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

/// Feeds `Hash` output into SHA-256, which unlike `DefaultHasher` is stable
/// across processes and Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("digest is 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIVIAL: &str = "(component)";

    fn engine() -> Engine {
        Engine::default()
    }

    /// A cache in a fresh directory with the trivial component stored in it.
    fn cache_with_trivial_entry() -> (tempfile::TempDir, Engine, ArtifactCache, String) {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        let bytes = wat::parse_str(TRIVIAL).unwrap();
        let sha = sha256_hex(&bytes);
        assert!(cache.lookup(&engine, &sha).is_none());
        cache.store(&sha, &Component::from_binary(&engine, &bytes).unwrap());
        (dir, engine, cache, sha)
    }

    #[test]
    fn key_names_the_component_hash_and_engine_hash() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        let cache = ArtifactCache::open(dir.path(), &engine).unwrap();
        let path = cache.artifact_path("abc");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("abc-"), "{name}");
        assert!(name.ends_with(".cwasm"), "{name}");
        // Same engine configuration, same key; the hash is deterministic.
        let again = ArtifactCache::open(dir.path(), &engine).unwrap();
        assert_eq!(again.artifact_path("abc"), path);
        assert_eq!(engine_compatibility_hex(&engine).len(), 32);
    }

    #[test]
    fn stored_entry_round_trips() {
        let (_dir, engine, cache, sha) = cache_with_trivial_entry();
        assert!(cache.artifact_path(&sha).exists());
        assert!(cache.digest_path(&sha).exists());
        assert!(cache.lookup(&engine, &sha).is_some());
    }

    #[test]
    fn tampered_entry_is_removed_not_loaded() {
        let (_dir, engine, cache, sha) = cache_with_trivial_entry();

        let path = cache.artifact_path(&sha);
        let mut artifact = fs::read(&path).unwrap();
        let middle = artifact.len() / 2;
        artifact[middle] ^= 0xff;
        fs::write(&path, &artifact).unwrap();

        assert!(cache.lookup(&engine, &sha).is_none());
        assert!(!path.exists(), "a tampered artifact must be deleted");
        assert!(!cache.digest_path(&sha).exists());
    }

    #[test]
    fn artifact_without_digest_is_not_trusted() {
        let (_dir, engine, cache, sha) = cache_with_trivial_entry();
        fs::remove_file(cache.digest_path(&sha)).unwrap();
        assert!(cache.lookup(&engine, &sha).is_none());
        assert!(!cache.artifact_path(&sha).exists());
    }
}
