//! Without PostgreSQL the PostgreSQL tests say loudly that they did not run,
//! even though the harness hides what passing tests print; in CI they fail.
//! Runs this test binary again on one PostgreSQL test, with no server to find.

use std::process::{Command, Output};

fn run_one_postgres_test(ci: bool) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "foundation::health::health_and_readiness::postgres",
    ])
    .env_remove("TEST_DATABASE_URL")
    .env_remove("CI")
    // No throwaway cluster either: its directory cannot be made.
    .env("TMPDIR", "/proc/no-such-dir");
    if ci {
        cmd.env("CI", "true");
    }
    cmd.output().unwrap()
}

#[test]
fn a_missing_postgresql_is_reported_or_fails_in_ci() {
    let out = run_one_postgres_test(false);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the test ran: {text}");
    assert!(text.contains("PostgreSQL tests DID NOT RUN"), "{text}");
    let ci = run_one_postgres_test(true);
    assert!(!ci.status.success(), "CI=true fails instead");
    assert!(String::from_utf8_lossy(&ci.stdout).contains("PostgreSQL is required in CI"));
}
