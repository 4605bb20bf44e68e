//! The shape of every configuration write: one transaction that first takes
//! the cluster-wide config lock (so "delete this plugin unless a source
//! uses it" holds across nodes), checks and writes, bumps the changed
//! kind's version and notifies the other nodes, in that transaction.

use deadpool_postgres::{Object, Transaction};

use super::Shared;
use crate::store::{ConfigChange, StoreError};

/// The advisory lock every configuration write takes ("wasmhook").
const CONFIG_LOCK: i64 = 0x7761_736d_686f_6f6b;

/// The channel configuration changes are announced on.
pub(super) const CHANNEL: &str = "wasmhook_config";

/// Starts a configuration write on `client`: a transaction holding the
/// config lock until it ends.
pub(super) async fn begin(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CONFIG_LOCK])
        .await?;
    Ok(tx)
}

/// Ends a configuration write that changed `kind`: bumps its version,
/// notifies, commits.
pub(super) async fn commit(tx: Transaction<'_>, kind: ConfigChange) -> Result<(), StoreError> {
    bump(&tx, kind).await?;
    tx.commit().await?;
    Ok(())
}

/// Bumps `kind`'s version and queues its notification in `tx`.
pub(super) async fn bump(tx: &Transaction<'_>, kind: ConfigChange) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE config_versions SET version = version + 1 WHERE kind = $1",
        &[&kind.as_str()],
    )
    .await?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &kind.as_str()])
        .await?;
    Ok(())
}

impl Shared {
    /// Refreshes what `kind` affects after this node's own write, so the
    /// writer reads its write at once (the listener refreshes again when
    /// the notification arrives).
    pub(super) async fn after_write(&self, kind: ConfigChange) -> Result<(), StoreError> {
        self.refresh(kind).await
    }
}
