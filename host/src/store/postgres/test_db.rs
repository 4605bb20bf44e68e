//! A fresh database per test on the server `WASMHOOK_TEST_DATABASE_URL`
//! names (`tests/postgres.sh start DIR` prints one), dropped when the test
//! ends. Without the variable a test notes it and passes, except under CI,
//! where it fails: the PostgreSQL tests must run there.

use super::PgStore;

/// The variable naming the test server.
const VARIABLE: &str = "WASMHOOK_TEST_DATABASE_URL";

/// One test's database.
pub(in crate::store) struct TestDb {
    admin: String,
    name: String,
    /// Its URL.
    pub(in crate::store) url: String,
}

impl TestDb {
    /// Whether a test server is configured; notes it when not (outside
    /// CI, where it panics instead).
    pub(in crate::store) fn configured() -> Option<String> {
        match std::env::var(VARIABLE) {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("{VARIABLE} is not set under CI: start tests/postgres.sh and export it")
            }
            Err(_) => {
                eprintln!("note: {VARIABLE} is not set; skipping this PostgreSQL test");
                None
            }
        }
    }

    /// A new empty database, or `None` (with a note) when no server is
    /// configured outside CI.
    pub(in crate::store) async fn create() -> Option<TestDb> {
        let admin = Self::configured()?;
        let name = format!("wasmhook_test_{:016x}", rand::random::<u64>());
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|error| panic!("connecting to {VARIABLE} ({admin}): {error}"));
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|error| panic!("creating the test database {name}: {error}"));
        let mut url = url::Url::parse(&admin).expect("the test database URL parses");
        url.set_path(&name);
        Some(TestDb {
            admin,
            name,
            url: url.to_string(),
        })
    }

    /// A store on this database.
    pub(in crate::store) async fn store(&self) -> PgStore {
        PgStore::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connecting the store to {}: {error}", self.url))
    }

    /// A plain connection to this database, for what a test sets up or
    /// inspects behind the store's back.
    pub(in crate::store) async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connecting to the test database");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDb {
    /// Drops the database, best effort (on its own thread: this may run
    /// inside a runtime, where blocking on another is not allowed).
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

/// The test's database, or return (see [`TestDb::create`]).
macro_rules! test_db {
    () => {
        match super::test_db::TestDb::create().await {
            Some(db) => db,
            None => return,
        }
    };
}
pub(super) use test_db;
