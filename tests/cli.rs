//! Command-line behaviour as data: each `tests/cmd/*.toml` is one invocation with its
//! expected exit code and output.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
