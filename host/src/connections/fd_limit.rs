//! The process's descriptor limit: raised to its hard maximum at start, and
//! the connection cap kept below it, so that client connections can never
//! take the descriptors the store, the compile cache and outbound requests
//! need ("Too many open files" answering `/healthz` included).

/// Descriptors kept out of the connection cap for everything that is not a
/// client connection (the store's files, the compile cache, logs), besides
/// one per delivery worker for its outbound connection.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft limit on open descriptors to the hard limit and returns
/// the soft limit then in force (`None`: unlimited or unknown).
pub fn raise_descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current?;
        // An unlimited hard limit is not a value the soft one may take for
        // descriptors on Linux (it is capped by fs.nr_open): aim at 2^20.
        let target = limit.maximum.unwrap_or(1 << 20);
        if target > current {
            let raised = Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            };
            if let Err(error) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(%error, current, target, "cannot raise the open-files limit");
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap in force: the configured one, lowered to leave
/// [`RESERVED_DESCRIPTORS`] plus `delivery_workers` of `fd_limit` free.
pub fn connection_cap(configured: usize, fd_limit: Option<u64>, delivery_workers: usize) -> usize {
    let Some(limit) = fd_limit else {
        return configured;
    };
    let reserved = RESERVED_DESCRIPTORS + delivery_workers as u64;
    let room = usize::try_from(limit.saturating_sub(reserved)).unwrap_or(usize::MAX);
    configured.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(4096, None, 128), 4096);
        assert_eq!(connection_cap(4096, Some(1_048_576), 128), 4096);
        assert_eq!(connection_cap(4096, Some(1024), 128), 1024 - 256 - 128);
        assert_eq!(connection_cap(4096, Some(100), 128), 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let raised = raise_descriptor_limit();
        #[cfg(unix)]
        {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
            assert_eq!(raised, limit.current);
            if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
                assert_eq!(current, maximum);
            }
        }
        let _ = raised;
    }
}
