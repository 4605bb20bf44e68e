//! A test guest: the Parcel mapper of `tests/guests/parcel-mapper.rs`,
//! the fixed build: it also knows `READ` and keeps a failure's reason (`plugin replay` shows the difference).

const FIXED: bool = true;

include!("../../parcel-mapper.rs");
