//! The pure parts of a block's `http.send`: what is shown, logged and
//! masked, and that none of it grows with what the plugin sends.

use super::*;

#[test]
fn queries_are_left_out_of_targets() {
    assert_eq!(
        without_query("https://x.example/a?email=a@b.c#f"),
        "https://x.example/a"
    );
    assert_eq!(
        without_query(" https://x.example/a "),
        "https://x.example/a"
    );
}

#[test]
fn long_bodies_are_cut() {
    let long = vec![b'a'; SHOWN_BODY_BYTES + 10];
    assert_eq!(shown_text(&long).chars().count(), SHOWN_BODY_BYTES + 1);
}

#[test]
fn credential_headers_are_masked_whoever_set_them() {
    assert_eq!(shown_value("Authorization", "Bearer t"), MASK);
    assert_eq!(shown_value("X-Api-Key", "k"), MASK);
    assert_eq!(shown_value("X-Request-Id", "r1"), "r1");
}

#[test]
fn what_is_shown_and_logged_of_a_huge_request_stays_small() {
    let request = HttpRequest {
        method: "G".repeat(1 << 20),
        url: format!("https://x.example/{}", "p".repeat(1 << 20)),
        headers: vec![("x-huge".into(), "h".repeat(1 << 20)); 100],
        body: Some(vec![b'b'; 1 << 20]),
        connector: None,
        timeout_ms: None,
    };
    let shown = BlockHttp::shown(&request);
    let size = serde_json::to_string(&shown).unwrap().len();
    assert!(size < 40 << 10, "a huge request is shown in {size} bytes");
    assert_eq!(shown.headers.len(), caps::MAX_HEADERS);
    assert!(shown.url.contains("not shown"), "{}", shown.url);
    assert_eq!(shown.method.len(), 16 + '…'.len_utf8());
    assert!(target_of(&request).len() < 100, "{}", target_of(&request));
}

#[test]
fn a_secret_header_is_masked_however_long() {
    let request = HttpRequest {
        method: "GET".into(),
        url: "https://u:pw@x.example/a?q=1".into(),
        headers: vec![("Authorization".into(), "t".repeat(10_000))],
        ..HttpRequest::default()
    };
    let shown = BlockHttp::shown(&request);
    assert_eq!(shown.headers[0].1, MASK);
    assert_eq!(shown.url, "https://u:***@x.example/a?q=1");
    assert_eq!(target_of(&request), "GET https://u:***@x.example/a");
}
