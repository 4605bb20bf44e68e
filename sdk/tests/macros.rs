//! The attribute macros refuse functions of the wrong shape with an error
//! that points at the function (compile-fail cases in `tests/ui/`).

#[test]
fn misuse_is_a_compile_error_at_the_function() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass_*.rs");
    cases.compile_fail("tests/ui/fail_*.rs");
}
