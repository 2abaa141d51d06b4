//! Command-line behaviour as data: each `tests/cmd/*.toml` is one invocation with its
//! expected exit code and output.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("sh", std::path::Path::new("/bin/sh"))
        .case("tests/cmd/*.toml")
        .case("tests/cmd/*.trycmd");
}
