fn main() -> std::process::ExitCode {
    drgen::run()
}
