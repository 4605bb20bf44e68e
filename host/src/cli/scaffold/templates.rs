//! The files each kind of `plugin new` crate is made of: (path in the
//! crate, contents with `{{name}}`, `{{wasm_name}}` and `{{sdk_dependency}}`
//! holes), built into the binary so it scaffolds from anywhere.

use crate::cli::PluginKind;

/// The files of a new crate of `kind`.
pub(super) fn files(kind: PluginKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        PluginKind::Mapper => MAPPER,
        PluginKind::Renderer => RENDERER,
        PluginKind::Block => BLOCK,
    }
}

/// A mapper of delivery reports, with a status table.
const MAPPER: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("mapper/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("mapper/lib.rs.tmpl")),
    ("README.md", include_str!("mapper/README.md.tmpl")),
    (".gitignore", include_str!("mapper/gitignore")),
    (
        "samples/delivered.json",
        include_str!("mapper/delivered.json"),
    ),
    ("samples/batch.json", include_str!("mapper/batch.json")),
    (
        "samples/unknown-state.json",
        include_str!("mapper/unknown-state.json"),
    ),
    (
        "samples/expected.json",
        include_str!("mapper/expected.json.tmpl"),
    ),
];

/// A renderer of chat notices, as JSON or text, with `{{ path }}` templates.
const RENDERER: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("renderer/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("renderer/lib.rs.tmpl")),
    ("README.md", include_str!("renderer/README.md.tmpl")),
    (".gitignore", include_str!("renderer/gitignore")),
    (
        "samples/delivered.json",
        include_str!("renderer/delivered.json"),
    ),
    ("samples/reply.json", include_str!("renderer/reply.json")),
    ("samples/as-xml.json", include_str!("renderer/as-xml.json")),
    (
        "samples/missing-name.json",
        include_str!("renderer/missing-name.json"),
    ),
    (
        "samples/expected.json",
        include_str!("renderer/expected.json.tmpl"),
    ),
];

/// A block that looks the contact up in a CRM through the host.
const BLOCK: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("block/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("block/lib.rs.tmpl")),
    ("README.md", include_str!("block/README.md.tmpl")),
    (".gitignore", include_str!("block/gitignore")),
    ("samples/found.json", include_str!("block/found.json")),
    ("samples/unknown.json", include_str!("block/unknown.json")),
    ("samples/crm-down.json", include_str!("block/crm-down.json")),
    ("samples/no-email.json", include_str!("block/no-email.json")),
    (
        "samples/expected.json",
        include_str!("block/expected.json.tmpl"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample file of every kind has its entry in the kind's
    /// expected.json (the crate's own test would refuse the folder).
    #[test]
    fn every_sample_has_an_expectation() {
        for kind in [PluginKind::Mapper, PluginKind::Renderer, PluginKind::Block] {
            let files = files(kind);
            let expected = files
                .iter()
                .find(|(path, _)| *path == "samples/expected.json")
                .map(|(_, text)| text.replace("{{name}}", "acme"))
                .unwrap_or_else(|| panic!("{kind:?} has no samples/expected.json"));
            let expected: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&expected).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            for (path, _) in files {
                if let Some(sample) = path.strip_prefix("samples/")
                    && sample != "expected.json"
                {
                    assert!(expected.contains_key(sample), "{kind:?}: {sample}");
                }
            }
            assert_eq!(
                expected.len(),
                files
                    .iter()
                    .filter(|(p, _)| p.starts_with("samples/"))
                    .count()
                    - 1,
                "{kind:?}: an expectation without its sample"
            );
        }
    }
}
