//! `cargo xtask demo`: the local CDP emulator plus a scripted visit through the xmcdp C ABI, then what the
//! CDP received.

use crate::util::{self, cargo, http_get, EmulatorProcess};
use std::process::Command;

pub fn run(_args: &[String]) -> Result<(), String> {
    let root = util::repo_root();
    println!("== building xmcdp and the emulator");
    util::run(cargo().args(["build", "--quiet", "-p", "xmcdp", "--lib"]))?;
    util::run(cargo().args(["build", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let debug = util::target_dir().join("debug");
    let exe = util::target_dir().join("demo").join("visit");
    std::fs::create_dir_all(exe.parent().unwrap()).map_err(|e| e.to_string())?;
    util::run(
        Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Werror", "-O1", "-o"])
            .arg(&exe)
            .arg(root.join("examples/c/visit.c"))
            .arg("-I")
            .arg(root.join("bindings/c"))
            .arg("-L")
            .arg(&debug)
            .arg(format!("-Wl,-rpath,{}", debug.display()))
            .arg("-lxmcdp"),
    )?;

    let emu = EmulatorProcess::start(&[])?;
    println!("== emulator listening on {}", emu.url);
    let created = json(&http_get(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message={{}}", emu.url))?)?;
    let bid = created["ref"].as_str().ok_or("no browser ref")?.to_string();
    let anon_guest = created["customer_ref"].as_str().unwrap_or("").to_string();
    println!("== visitor's browser id {bid} (anonymous guest {anon_guest})");

    println!("== the site sends, through the C ABI:");
    util::run(Command::new(&exe).arg(&emu.url).arg(&bid))?;

    println!("\n== what the CDP received");
    let events = json(&http_get(&format!("{}/__emulator/events?browser_id={bid}", emu.url))?)?;
    for e in events["items"].as_array().into_iter().flatten() {
        let body = &e["body"];
        let detail = match e["type"].as_str().unwrap_or("") {
            "VIEW" => format!(
                "page={} {}",
                body["page"],
                body.as_object()
                    .map(|o| o.iter().filter(|(k, _)| k.starts_with("utm_")).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default()
            ),
            "IDENTITY" => format!("identifiers={}", body["identifiers"]),
            "ADD" => format!("item={} ext={}", body["product"]["item_id"], body["ext"]),
            "CHECKOUT" => format!("reference_id={} status={}", body["reference_id"], body["status"]),
            _ => String::new(),
        };
        println!("  {:<9} session={} {detail}", e["type"].as_str().unwrap_or("?"), e["session_ref"].as_str().unwrap_or("-"));
    }
    let show = json(&http_get(&format!("{}/v1.2/browser/{bid}/show.json?client_key=ck_test&api_token=ck_test", emu.url))?)?;
    let guest_ref = show["customer"]["ref"].as_str().unwrap_or("").to_string();
    let guest = json(&http_get(&format!("{}/__emulator/guests/{guest_ref}", emu.url))?)?;
    println!(
        "  guest {} type={} email={} identifiers={}",
        guest_ref,
        guest["guestType"].as_str().unwrap_or("?"),
        guest["email"].as_str().unwrap_or("-"),
        guest["identifiers"]
    );
    for s in guest["sessions"].as_array().into_iter().flatten() {
        let cart = &s["cart"];
        println!(
            "  session {} {} events={} cart lines={} checkouts={} purchased={}",
            s["ref"].as_str().unwrap_or("?"),
            s["status"].as_str().unwrap_or("?"),
            s["event_count"],
            cart["lines"].as_array().map_or(0, |l| l.len()),
            cart["checkouts"],
            cart["purchased"]
        );
    }
    let stats = json(&http_get(&format!("{}/__emulator/stats", emu.url))?)?;
    println!("  emulator stats: {stats}");
    Ok(())
}

fn json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("emulator answered non-JSON ({e}): {s}"))
}
