//! A test guest: the Parcel mapper of `tests/guests/parcel-mapper.rs`,
//! the first build: it rejects `READ` and drops a failure's reason (`plugin replay` shows the difference).

const FIXED: bool = false;

include!("../../parcel-mapper.rs");
