//! Every log in tests/fixtures/ is parsed and its rendered report compared
//! with the reviewed snapshot of the same name.

#[test]
fn fixtures() {
    insta::glob!("fixtures/*.log", |path| {
        let log = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(ktap::parse(&log).render());
    });
}
