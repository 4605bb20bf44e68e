//! The store the test servers run on: the embedded one by default, or a
//! PostgreSQL database of their own when `WASMHOOK_TEST_STORE=postgres`
//! (the cluster's URL in `WASMHOOK_TEST_DATABASE_URL`; `tests/run.sh`
//! starts one). A data dir's database is made on first use and named in
//! the data dir, so a server restarted on the same data dir finds its
//! records again, as it would in its sled store.

use std::path::Path;

use tokio_postgres::NoTls;

/// The file in a data dir naming its test database.
const DATABASE_FILE: &str = "test-database-url";

/// Whether the test servers run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("WASMHOOK_TEST_STORE").is_ok_and(|store| store == "postgres")
}

/// The database URL of `data_dir`'s server: the one named in the data dir
/// (see [`share_database`]), else, when the servers run on PostgreSQL, a
/// new one; `None` when they run on the embedded store.
pub fn database_for(data_dir: &Path) -> Option<String> {
    let file = data_dir.join(DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url.trim().to_owned());
    }
    if !on_postgres() {
        return None;
    }
    let cluster = std::env::var("WASMHOOK_TEST_DATABASE_URL").expect(
        "WASMHOOK_TEST_STORE=postgres needs WASMHOOK_TEST_DATABASE_URL (tests/postgres.sh start \
         prints one)",
    );
    let url = new_database(&cluster);
    record(data_dir, &url);
    Some(url)
}

/// One new database for the servers over `data_dirs` to share (nodes of
/// one system), whichever store the other tests use: its URL, or `None`
/// with a note when no test cluster is configured (outside CI; under CI
/// that fails the test).
pub fn share_database(data_dirs: &[&Path]) -> Option<String> {
    let cluster = match std::env::var("WASMHOOK_TEST_DATABASE_URL") {
        Ok(cluster) => cluster,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("WASMHOOK_TEST_DATABASE_URL is not set under CI (tests/run.sh starts one)")
        }
        Err(_) => {
            eprintln!(
                "note: WASMHOOK_TEST_DATABASE_URL is not set; skipping a test that needs PostgreSQL"
            );
            return None;
        }
    };
    let url = new_database(&cluster);
    for dir in data_dirs {
        record(dir, &url);
    }
    Some(url)
}

/// Whether PostgreSQL is there for a test that runs servers of its own
/// (`tests/postgres.sh` in a temp dir): the same switch as the multi-node
/// tests, `WASMHOOK_TEST_DATABASE_URL`. Outside CI a note and `false`
/// without it; under CI its absence fails the test.
pub fn postgres_configured(what: &str) -> bool {
    if std::env::var_os("WASMHOOK_TEST_DATABASE_URL").is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("WASMHOOK_TEST_DATABASE_URL is not set under CI (tests/run.sh starts one)");
    }
    eprintln!("note: WASMHOOK_TEST_DATABASE_URL is not set; skipping {what}");
    false
}

/// Names `url` as the database of the servers over `data_dirs` (a
/// database the test made itself, on a server of its own).
pub fn use_database(data_dirs: &[&Path], url: &str) {
    for dir in data_dirs {
        record(dir, url);
    }
}

/// A new database on `cluster` (a server URL); its URL.
pub fn new_database(cluster: &str) -> String {
    let name = format!(
        "wasmhook_test_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    run_on(cluster, format!("CREATE DATABASE {name}"));
    with_database(cluster, &name)
}

/// Names `url` as `data_dir`'s database.
fn record(data_dir: &Path, url: &str) {
    std::fs::create_dir_all(data_dir).expect("create the data dir");
    std::fs::write(data_dir.join(DATABASE_FILE), url).expect("record the test database");
}

/// Drops `data_dir`'s database, if it has one (best effort: a leftover
/// database only costs disk in the test cluster).
pub fn drop_database_of(data_dir: &Path) {
    let Ok(url) = std::fs::read_to_string(data_dir.join(DATABASE_FILE)) else {
        return;
    };
    let Ok(cluster) = std::env::var("WASMHOOK_TEST_DATABASE_URL") else {
        return;
    };
    let Some(name) = url.trim().rsplit('/').next().map(str::to_owned) else {
        return;
    };
    // FORCE: a server's connections may still be closing.
    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    std::thread::spawn(move || {
        let _ = try_run_on(&cluster, statement);
    });
}

/// `cluster` with its database part replaced by `name`.
fn with_database(cluster: &str, name: &str) -> String {
    let mut url = url::Url::parse(cluster).expect("WASMHOOK_TEST_DATABASE_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// Runs `statement` on `cluster` from a thread of its own (callers may be
/// on an async runtime or not); panics with the database's message.
fn run_on(cluster: &str, statement: String) {
    let cluster = cluster.to_owned();
    let shown = statement.clone();
    std::thread::spawn(move || try_run_on(&cluster, statement))
        .join()
        .expect("the statement's thread")
        .unwrap_or_else(|error| panic!("`{shown}` on the test cluster failed: {error}"));
}

fn try_run_on(cluster: &str, statement: String) -> Result<(), tokio_postgres::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the test database");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(cluster, NoTls).await?;
        let connection = tokio::spawn(connection);
        let result = client.batch_execute(&statement).await;
        drop(client);
        let _ = connection.await;
        result
    })
}
