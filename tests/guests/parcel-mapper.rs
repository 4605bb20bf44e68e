// The mapper of the fictional Parcel SMS gateway, shared by the two builds
// the replay test compares (`parcel-v1`, `parcel-v2`): each crate sets
// `FIXED` and includes this file. Parcel posts one JSON report
// `{"id", "to", "state", "reason"?}`.
//
// The first build knows `DELIVERED` and `FAILED` and drops the failure
// `reason`; the fixed one also knows `READ` and keeps the reason as the
// error description.

use wasmhook_sdk::prelude::*;

#[mapper]
fn map(callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
    let report = callback.json_value()?;
    let text = |key: &str| report.get(key).and_then(Value::as_str).map(str::to_owned);
    let state = text("state")
        .ok_or_else(|| PluginError::invalid_input("not a Parcel report: no `state`"))?;
    let status = match state.as_str() {
        "DELIVERED" => Status::Delivered,
        "FAILED" => Status::Failed,
        "READ" if FIXED => Status::Read,
        other => {
            return Err(PluginError::unsupported(format!(
                "unknown Parcel state `{other}`"
            )));
        }
    };
    let reason = if FIXED { text("reason") } else { None };
    Ok(vec![
        Event::status(Channel::Sms, status, "parcel")
            .recipient(text("to"))
            .message_id(text("id"))
            .vendor_status(Some(state))
            .error(None, reason),
    ])
}
