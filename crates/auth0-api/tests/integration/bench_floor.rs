//! The benches' floor verifier (`benches/common/floor.rs`) stays a verifier: the paired runs
//! quote the library's distance from it, so it must accept what the library accepts and refuse
//! what it must. `floor_of` and `check_dpop_floor` assert the refusals; this runs them (the
//! benches and examples that call them are built in CI but not run) and compares the floor's
//! answers with the library's on the same tokens.

#[path = "../../benches/common/mod.rs"]
mod common;

use auth0_api_dev_tenant::dpop::DpopKey;
use serde_json::json;

#[test]
fn the_floor_answers_as_the_library_does_on_the_bench_tokens() {
    let rt = common::current_thread();
    let tenant = common::start_tenant(&rt);
    let floor = common::floor_of(std::slice::from_ref(&tenant));
    common::check_dpop_floor(&floor, &tenant, &DpopKey::generate());

    let client = auth0_api::ApiClient::new(
        common::default_options(&tenant)
            .verified_token_cache(false)
            .build()
            .unwrap(),
    )
    .unwrap();
    let valid = common::distinct_tokens(&tenant, 8, "agree");
    // Refused by both, but for an `iat` in the future, which both accept (`iat` need only be
    // present: DESIGN section 4).
    let others = [
        common::auth0_shaped(&tenant).expired().sign(),
        common::auth0_shaped(&tenant)
            .aud(json!(["https://other.example"]))
            .sign(),
        common::auth0_shaped(&tenant).iat(4_000_000_000).sign(),
        common::auth0_shaped(&tenant)
            .issuer("https://elsewhere.example/")
            .sign(),
        common::auth0_shaped(&tenant).kid("unknown").sign(),
    ];
    for (i, token) in valid.iter().chain(&others).enumerate() {
        let library = rt.block_on(client.verify_access_token(token)).is_ok();
        assert_eq!(
            floor.verify(token),
            library,
            "the floor and the library differ on token {i}"
        );
    }
    assert!(valid.iter().all(|t| floor.verify(t)));
}

#[test]
fn the_floor_of_a_list_refuses_another_tenants_key_under_an_issuers_name() {
    // `floor_of` asserts the refusal for a list of two or more.
    let (_rt, tenants) = common::start_tenants(2);
    let floor = common::floor_of(&tenants);
    for t in &tenants {
        assert!(floor.verify(&common::auth0_shaped(t).sign()));
    }
}
