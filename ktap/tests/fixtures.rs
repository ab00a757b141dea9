//! Every log in tests/fixtures/ is parsed and its rendered report compared
//! with the reviewed snapshot of the same name.

#[test]
fn fixtures() {
    insta::glob!("fixtures/*.log", |path| {
        let log = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(ktap::parse(&log).render());
    });
}

/// The kernel's own KTAP test logs (tools/testing/kunit/test_data of Linux
/// 7.3.4, GPL-2.0), rendered.
#[test]
fn kernel_test_data() {
    insta::glob!("fixtures/kunit/*.log", |path| {
        let log = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(ktap::parse(&log).render());
    });
}
