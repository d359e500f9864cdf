//! The OpenAPI document in `schemas/` is the one the running service
//! generates from its routes: it cannot drift from the code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use reqwest::Method;
use serde_json::Value;
use support::{Service, ServiceOptions};

fn committed() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn committed_document_equals_the_generated_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(output.status.success());
    let generated: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        generated == committed(),
        "schemas/openapi.json is stale: regenerate it with `cargo run -- openapi --out schemas/openapi.json`"
    );
}

#[tokio::test]
async fn the_service_serves_the_same_document_and_every_documented_path() {
    let service = Service::start(ServiceOptions::default()).await;
    let served = service.get("/openapi.json", None).await;
    assert_eq!(served.status, 200);
    assert!(
        served.body == committed(),
        "served document differs from schemas/openapi.json"
    );

    let paths = served.body["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        18,
        "documented paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, item) in paths {
        let concrete = path
            .replace("{licence}", "Nobody")
            .replace("{login}", "nobody");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = service.call(method.clone(), &concrete, None, None).await;
            assert_ne!(
                (reply.status, reply.body["error"].as_str()),
                (404, Some("not_found")),
                "{method} {path} is documented but not routed"
            );
            assert_ne!(
                reply.status, 405,
                "{method} {path} is documented but not routed"
            );
            assert!(
                reply.status < 500,
                "{method} {path} answered {}: {}",
                reply.status,
                reply.raw
            );
        }
    }
}
