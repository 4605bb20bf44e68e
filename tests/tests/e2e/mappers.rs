//! Every first-party mapper over every sample in `plugins/fixtures/`, run as
//! a real component: the same expectations the plugins' native tests check
//! (`expected.json` per vendor), now through the wasm runtime.

use std::collections::BTreeSet;

use wasmhook_sdk::fixtures::{check_case, load_cases};

use crate::harness::{fixture_folders, fixtures_dir, load_plugin, runtime};

/// The first-party mapper plugins and their fixture folders.
const MAPPERS: [&str; 8] = [
    "gupshup",
    "meta-whatsapp",
    "twilio",
    "sendgrid",
    "esputnik",
    "amazon-ses",
    "mailgun",
    "postmark",
];

#[test]
fn every_first_party_mapper_has_fixtures() {
    let covered: BTreeSet<String> = fixture_folders()
        .into_iter()
        .map(|(_, plugin)| plugin)
        .collect();
    for mapper in MAPPERS.iter().chain(&["fieldmap"]) {
        assert!(
            covered.contains(*mapper),
            "no fixtures with expected.json for mapper `{mapper}`"
        );
    }
}

#[test]
fn every_fixture_maps_as_expected_through_wasm() {
    let runtime = runtime();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (folder, plugin_name) in fixture_folders() {
        let plugin = load_plugin(&runtime, &plugin_name);
        for case in load_cases(fixtures_dir(&folder)) {
            let result = match plugin.map(&case.callback, &case.config) {
                Ok((mapped, _stats)) => Ok(mapped),
                Err(wasmhook::runtime::CallError::Plugin { error, .. }) => Err(error),
                Err(other) => {
                    failures.push(format!("{}: call failed: {other}", case.name));
                    continue;
                }
            };
            if let Err(why) = check_case(&case, result) {
                failures.push(format!("{} (plugin {plugin_name}): {why}", case.name));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 100, "only {checked} fixture cases ran");
}
