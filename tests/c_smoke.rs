//! Builds `tests/c/smoke.c` with gcc against the committed `bindings/c/xmcdp.h`, links it to the cdylib
//! of this very build, runs it against an in-process emulator and checks what the emulator received.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the cdylib of the current profile, freshly built. The test binary sits in
/// `<target>/<profile>/deps/`, which follows `CARGO_TARGET_DIR` and the profile without guessing.
/// `cargo test` builds only the rlib this test links, so the cdylib is built (or found up to date)
/// explicitly: a stale `.so` must never pass for the current source.
fn cdylib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>/deps/<test>").to_path_buf();
    let target = profile_dir.parent().expect("target dir");
    let profile = profile_dir.file_name().and_then(|p| p.to_str()).expect("profile dir name");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "--lib", "-p", "xmcdp", "--profile", if profile == "debug" { "dev" } else { profile }]);
    cmd.env("CARGO_TARGET_DIR", target).current_dir(repo());
    assert!(cmd.status().expect("run cargo build").success(), "cargo build --lib failed");
    let name = format!("{}xmcdp{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    assert!(profile_dir.join(&name).exists(), "{} not found in {}", name, profile_dir.display());
    profile_dir
}

fn compile_smoke(lib_dir: &Path) -> PathBuf {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-smoke");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join("smoke");
    let output = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-std=c99", "-O1", "-g"])
        .arg("-I")
        .arg(repo().join("bindings/c"))
        .arg(repo().join("tests/c/smoke.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lxmcdp")
        .output()
        .expect("run gcc");
    assert!(
        output.status.success(),
        "gcc failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// A GET through the shared client (the emulator's JSON endpoints), whatever the status.
fn http_get(base: &str, path: &str) -> (u16, String) {
    let r = xmcdp_emulator_admin::send("GET", &format!("{base}{path}"), &[("Accept", "application/json")], None).expect("GET");
    (r.status, r.body)
}

#[test]
fn c_smoke_against_emulator() {
    let lib_dir = cdylib_dir();
    let exe = compile_smoke(&lib_dir);

    let emu = xmcdp_emulator::spawn(xmcdp_emulator::EmulatorConfig::default()).expect("start emulator");
    let base = emu.base_url();
    let (status, body) = http_get(&base, "/v1.2/browser/create.json?client_key=ck_test&message=%7B%7D");
    assert_eq!(status, 200, "browser create: {body}");
    let created: serde_json::Value = serde_json::from_str(&body).expect("browser create JSON");
    let bid = created["ref"].as_str().expect("browser ref").to_string();

    let run = Command::new(&exe).arg(&base).arg(&bid).output().expect("run smoke");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "C smoke test failed ({}):\n{stdout}", run.status);
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let (status, body) = http_get(&base, &format!("/__emulator/events?browser_id={bid}"));
    assert_eq!(status, 200, "events: {body}");
    let events: serde_json::Value = serde_json::from_str(&body).expect("events JSON");
    let items = events["items"].as_array().expect("items");
    let types: Vec<&str> = items.iter().filter_map(|e| e["type"].as_str()).collect();
    for want in ["VIEW", "IDENTITY", "ADD"] {
        assert_eq!(types.iter().filter(|t| **t == want).count(), 1, "want one {want} event, got {types:?}");
    }
    assert!(!types.contains(&"LATE"), "an event sent after shutdown was delivered: {types:?}");

    let view = items.iter().find(|e| e["type"] == "VIEW").unwrap();
    assert_eq!(view["body"]["utm_source"], "smoke", "VIEW body: {}", view["body"]);
    assert_eq!(view["body"]["ext"]["test"], "c-smoke", "VIEW body: {}", view["body"]);
    assert_eq!(view["body"]["page"], "home", "VIEW body: {}", view["body"]);
    let add = items.iter().find(|e| e["type"] == "ADD").unwrap();
    assert_eq!(add["body"]["product"]["item_id"], "SKU-1", "ADD body: {}", add["body"]);

    // The decision that did not fit its buffer was held for xmcdp_result_take, never asked for twice.
    let (status, body) = http_get(&base, "/__emulator/flows/executions?friendly_id=promo_summer");
    assert_eq!(status, 200, "executions: {body}");
    let execs: serde_json::Value = serde_json::from_str(&body).expect("executions JSON");
    assert_eq!(execs["count"], 1, "promo_summer executions: {body}");
    // Decisions went out as the classic callFlows body, with the User-Agent of the request struct.
    let (status, body) = http_get(&base, "/__emulator/requests");
    assert_eq!(status, 200, "requests: {body}");
    let requests: serde_json::Value = serde_json::from_str(&body).expect("requests JSON");
    let banner = requests["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["route"] == "callflows" && r["body"].as_str().is_some_and(|b| b.contains("\"tier\":\"gold\"")))
        .unwrap_or_else(|| panic!("no home_page_banner callFlows request: {body}"));
    let sent: serde_json::Value = serde_json::from_str(banner["body"].as_str().unwrap()).expect("callFlows body");
    assert_eq!(sent["friendlyId"], "home_page_banner", "{sent}");
    assert_eq!(sent["browserId"], bid.as_str(), "{sent}");
    assert_eq!(sent["params"]["n"], 1, "{sent}");
    assert_eq!(banner["headers"]["user-agent"], "xmcdp-smoke/1.0", "{banner}");
    // The API token only ever travels in the Authorization header of Guest API requests.
    for r in requests["items"].as_array().unwrap() {
        let mut text = r.clone();
        text["headers"]["authorization"] = serde_json::Value::Null;
        assert!(!text.to_string().contains("tok_"), "token outside the Authorization header: {r}");
    }
    emu.stop();
}
