//! `cargo xtask demo`: the whole stack on one machine. Builds the native library, the emulator and the C#
//! (`xtask/src/dotnet.rs`), starts xmcdp-emulator and the ASP.NET test site under a patched xsp4 (the same host
//! the end-to-end tests use; its pipelines come from the SHIPPED XmCdp.config), drives scripted visitors over
//! real HTTP with cookies, then prints what CDP received, the decisions served and the library's counters.
//! The last part is a visit through the plain C ABI (examples/c/visit.c).

use crate::dotnet;
use crate::emulator_process::EmulatorProcess;
use crate::process::{self, cargo};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const XSP4: &str = "/usr/lib/mono/4.5/xsp4.exe";
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

pub fn run(args: &[String]) -> Result<(), String> {
    // --keep-running: the site stays up after the script (its clients are not shut down) so a person can open it.
    let keep_running = args.iter().any(|a| a == "--keep-running");
    let root = process::repo_root();
    println!("== building the native library, the emulator and the C# assemblies");
    process::run(cargo().args(["build", "--quiet", "-p", "xmcdp", "--lib"]))?;
    process::run(cargo().args(["build", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let debug = process::target_dir().join("debug");
    let native = debug.join(crate::process::native_lib_name());
    let out = process::target_dir().join("demo").join("dotnet");
    dotnet::build(&root, &out)?;
    let visit = process::target_dir().join("demo").join("visit");
    process::run(
        Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Werror", "-O1", "-o"])
            .arg(&visit)
            .arg(root.join("examples/c/visit.c"))
            .arg("-I")
            .arg(root.join("bindings/c"))
            .arg("-L")
            .arg(&debug)
            .arg(format!("-Wl,-rpath,{}", debug.display()))
            .arg("-lxmcdp"),
    )?;

    let emu = EmulatorProcess::start(&[])?;
    println!("== emulator (local CDP) on {}", emu.url);
    let site = XspSite::start(&out, &native, &emu.url)?;
    println!("== Sitecore test site (xsp4, shipped XmCdp.config) on {}", site.url);
    let warm = site.get("/__host/log", &mut Jar::default())?;
    for line in warm.body.lines().filter(|l| l.contains("XmCdp:")) {
        println!("   log: {line}");
    }

    println!("\n== scripted visitors (real HTTP, cookies kept per browser)");
    let mut decisions: Vec<(String, String)> = Vec::new();
    let run_id = format!("{:x}", std::process::id());

    // 1. Anonymous browsing: a first visit gets its bid_ cookie from the library, then two more pages.
    let mut alice = Jar::default();
    for path in [
        "/?utm_source=newsletter&utm_campaign=spring",
        "/products/bike?decide=home_page_banner,hero_experiment",
        "/about",
    ] {
        let r = site.visit("alice (anonymous)", path, &mut alice)?;
        collect(&r, &mut decisions);
    }
    // 2. Returning visitor: same cookie jar later; no new id, no Set-Cookie.
    let r = site.visit("alice (returning)", "/?decide=home_page_banner", &mut alice)?;
    collect(&r, &mut decisions);
    // 3. Login -> IDENTITY (once per login), goal and conversion from C# (ADD, CHECKOUT).
    alice.set("stub_user", &format!("alice{run_id}"));
    for path in ["/", "/cart?add=SKU-X1", "/checkout?order=ORDER-1"] {
        site.visit("alice (logged in)", path, &mut alice)?;
    }
    // 4. A known customer on a second device: anonymous first, then the login merges the two guests.
    let mut bob_laptop = Jar::default();
    bob_laptop.set("stub_user", &format!("bob{run_id}"));
    site.visit("bob (laptop, logged in)", "/", &mut bob_laptop)?;
    let mut bob_phone = Jar::default();
    let r = site.visit("bob (phone, anonymous)", "/products/bike?decide=hero_experiment", &mut bob_phone)?;
    collect(&r, &mut decisions);
    bob_phone.set("stub_user", &format!("bob{run_id}"));
    let r = site.visit("bob (phone, logs in)", "/?decide=home_page_banner", &mut bob_phone)?;
    collect(&r, &mut decisions);
    // 5. Experiment traffic: ten new visitors on the products page.
    for i in 0..10 {
        let mut v = Jar::default();
        let r = site.get("/products/bike?decide=hero_experiment&budget=400", &mut v)?;
        if i == 0 {
            println!("   10 new visitors on /products/bike (hero_experiment) ...");
        }
        collect(&r, &mut decisions);
    }
    // 6. A bot and a media request: not tracked.
    let bot = site.get_as("/about", &mut Jar::default(), "Mozilla/5.0 (compatible; Googlebot/2.1)")?;
    println!("   googlebot /about -> {} {}", bot.status, bot.body.lines().next().unwrap_or(""));
    crate::demo_forms::run(&site.url, &emu.url, &emu.admin())?;

    // 7. Registration and profile update through the Guest REST API (CdpGuests, CdpContext.Guest).
    guest_registration(&site, &emu.admin(), &run_id)?;

    // Let the library deliver everything queued before looking at CDP.
    let stats = if keep_running {
        // The clients stay up; the library delivers continuously, so give it a moment instead of a shutdown flush.
        std::thread::sleep(Duration::from_secs(2));
        site.get("/__host/stats", &mut Jar::default())?.body
    } else {
        let stats = site.get("/__host/stats", &mut Jar::default())?.body;
        let shut = site.get("/__host/shutdown", &mut Jar::default())?;
        println!("   site shutdown hook: {}", shut.body.trim());
        stats
    };

    println!("\n== what CDP received (from the emulator's inspection API)");
    let admin = emu.admin();
    let events = admin.events("limit=10000")?;
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for e in events["items"].as_array().into_iter().flatten() {
        *by_type.entry(e["type"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    println!(
        "   events by type: {}",
        by_type.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    );
    let guests = admin.guests("limit=10000")?;
    let items = guests["items"].as_array().cloned().unwrap_or_default();
    let mut by_guest_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut merged = Vec::new();
    for g in &items {
        *by_guest_type.entry(g["guestType"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        if let Some(into) = g["mergedInto"].as_str() {
            merged.push(format!("{} -> {}", g["ref"].as_str().unwrap_or("?"), into));
        }
    }
    println!(
        "   guests: {} ({}); browser ids minted ahead for first visits are anonymous guests too",
        items.len(),
        by_guest_type.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    );
    for m in &merged {
        println!("   identity merge: anonymous guest {m}");
    }
    for g in items.iter().filter(|g| g["email"].is_string()) {
        let r = g["ref"].as_str().unwrap_or("");
        let detail = admin.guest(r)?;
        for s in detail["sessions"].as_array().into_iter().flatten() {
            let cart = &s["cart"];
            println!(
                "   customer {} session {} events={} cart lines={} checkouts={}",
                g["email"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                s["event_count"],
                cart["lines"].as_array().map_or(0, |l| l.len()),
                cart["checkouts"]
            );
        }
    }
    let sessions = admin.sessions("limit=10000")?;
    println!("   sessions: {}", sessions["items"].as_array().map_or(0, |s| s.len()));
    let execs = admin.flow_executions("limit=10000")?;
    let mut flows: BTreeMap<String, usize> = BTreeMap::new();
    for x in execs["items"].as_array().into_iter().flatten() {
        let key = format!(
            "{}{}",
            x["friendly_id"].as_str().unwrap_or("?"),
            x["variant"].as_str().map(|v| format!("/{v}")).unwrap_or_default()
        );
        *flows.entry(key).or_default() += 1;
    }
    println!(
        "   flow executions: {}",
        flows.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    );

    println!("\n== decisions served to renderings (CdpContext.Current.Decide)");
    let mut per_flow: BTreeMap<String, Vec<(String, u64, bool)>> = BTreeMap::new();
    for (flow, line) in &decisions {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let outcome = parts.get(2).unwrap_or(&"?").to_string();
        let prefetched = line.contains("prefetched=yes");
        let ms = parts.iter().find_map(|p| p.strip_prefix("ms=")).and_then(|v| v.parse().ok()).unwrap_or(0);
        per_flow.entry(flow.clone()).or_default().push((outcome, ms, prefetched));
    }
    for (flow, rows) in &per_flow {
        let mut ms: Vec<u64> = rows.iter().map(|r| r.1).collect();
        ms.sort_unstable();
        let ok = rows.iter().filter(|r| r.0 == "Ok").count();
        let pre = rows.iter().filter(|r| r.2).count();
        println!(
            "   {flow}: {} served ({ok} Ok, {pre} prefetched), wait in the rendering p50={} ms max={} ms",
            rows.len(),
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    for (flow, line) in decisions.iter().filter(|(f, _)| f == "hero_experiment").take(3) {
        println!("   e.g. {flow}: {}", line.split_whitespace().last().unwrap_or(""));
    }

    println!("\n== library counters (xmcdp_client_stats of the site's client)");
    for line in stats.lines() {
        let (name, body) = line.split_once(' ').unwrap_or(("?", line));
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) => print_stats(name, &v),
            Err(_) => println!("   {line}"),
        }
    }
    let admin_page = format!("{}/sitecore/admin/xmcdp.aspx", site.url);
    let kept = if keep_running { Some(site) } else { drop(site); None };

    println!("\n== the same library through the plain C ABI (examples/c/visit.c)");
    let bid = admin.create_browser()?;
    process::run(Command::new(&visit).arg(&emu.url).arg(&bid))?;
    let events = admin.events_of(&bid)?;
    let types: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str())
        .collect();
    println!("   CDP received for {bid}: {}", types.join(" "));
    println!("\n== admin page (administrators only): {admin_page}");
    match kept {
        Some(site) => {
            println!("   the stand-in login: open {}/__host/login-admin (sets the administrator cookie, then opens the page)", site.url);
            println!("   the site and the emulator keep running (--keep-running); press Ctrl-C to stop them");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        None => println!("   (`cargo xtask demo --keep-running` keeps the site up to open it)"),
    }
    Ok(())
}

/// A registration handler creates the customer with a data extension, then updates its profile; a rendering
/// writes and reads the anonymous visitor's own extension with `CdpContext.Current.Guest` (one line each).
fn guest_registration(site: &XspSite, admin: &xmcdp_emulator_admin::Admin, run_id: &str) -> Result<(), String> {
    let mut carol = Jar::default();
    let r = site.visit("carol (registers)", &format!("/?register=carol{run_id}"), &mut carol)?;
    let gref = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("guest registered="))
        .filter(|g| !g.starts_with("failed"))
        .ok_or_else(|| format!("the registration failed: {}", r.body))?
        .to_string();
    site.visit("carol (profile update)", &format!("/about?updateGuest={gref}&city=Dublin"), &mut carol)?;
    let g = admin.guest(&gref)?;
    let ext = g["extensions"].as_array().and_then(|x| x.iter().find(|e| e["name"] == "ext")).cloned().unwrap_or_default();
    println!(
        "   CDP guest {gref}: {} {} <{}> city={} country={} ext.newsletter={} ext.signupSource={}",
        g["guestType"], g["firstName"], g["email"].as_str().unwrap_or("?"), g["city"], g["country"], ext["newsletter"], ext["signupSource"]
    );
    let mut dave = Jar::default();
    site.visit("dave (rendering saves)", "/about?guestSave=ext&key=favouriteColour&value=red", &mut dave)?;
    site.visit("dave (rendering reads)", "/about?guestExt=ext&key=favouriteColour", &mut dave)?;
    Ok(())
}

fn print_stats(site: &str, v: &serde_json::Value) {
    println!("   site '{site}':");
    let Some(o) = v.as_object() else { return };
    for (k, val) in o {
        match val.as_object() {
            // Scalars of each group on one line; latency histograms as p50/p99.
            Some(group) => {
                let mut parts = Vec::new();
                for (gk, gv) in group {
                    if gk.ends_with("latency") {
                        parts.push(format!("{gk} p50={}us p99={}us", gv["p50_us"], gv["p99_us"]));
                    } else if !gv.is_object() {
                        parts.push(format!("{gk}={gv}"));
                    }
                }
                println!("     {k}: {}", parts.join(" "));
            }
            None => println!("     {k}: {val}"),
        }
    }
}

fn collect(r: &Response, out: &mut Vec<(String, String)>) {
    for line in r.body.lines().filter(|l| l.starts_with("decision ")) {
        let flow = line.split_whitespace().nth(1).unwrap_or("?").to_string();
        out.push((flow, line.to_string()));
    }
}

/// One browser's cookies.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn apply(&mut self, set_cookie: &str) {
        let first = set_cookie.split(';').next().unwrap_or("");
        let Some((name, value)) = first.split_once('=') else { return };
        let expired = set_cookie.split(';').any(|a| a.trim().eq_ignore_ascii_case("Max-Age=0"));
        if expired || value.is_empty() {
            self.0.remove(name.trim());
        } else {
            self.0.insert(name.trim().to_string(), value.trim().to_string());
        }
    }
}

struct Response {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
    elapsed: Duration,
}

/// The ASP.NET test site in a patched private copy of xsp4 (see spec/mono-host-notes.md), killed on drop.
pub(crate) struct XspSite {
    child: Child,
    pub(crate) url: String,
    _work: PathBuf,
}

impl XspSite {
    pub(crate) fn start(out: &Path, native: &Path, emulator_url: &str) -> Result<XspSite, String> {
        let work = out.join(format!("demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let site = work.join("site");
        dotnet::copy_tree(&out.join("site"), &site)?;
        let web_config = site.join("web.config");
        let text = std::fs::read_to_string(&web_config).map_err(|e| e.to_string())?;
        // The emulator's tenant token, so the Guest API works from the site.
        let text = text.replace("__EMULATOR_URL__", emulator_url).replace("tok_SECRET_e2e", "tok_test");
        std::fs::write(&web_config, text).map_err(|e| e.to_string())?;
        let bin = site.join("bin");
        for name in ["XmCdp.dll", "XmCdp.Sitecore.dll", "Sitecore.Kernel.dll", "Sitecore.Mvc.dll", "Sitecore.ExperienceForms.dll", "XmCdp.TestHost.dll"] {
            dotnet::copy_file(&out.join(name), &bin.join(name))?;
        }
        let native = std::fs::canonicalize(native).map_err(|e| format!("{}: {e}", native.display()))?;
        dotnet::write_dllmap(&bin.join("XmCdp.dll.config"), &native)?;
        let xsp = work.join("xsp");
        let tools = out.join("tools");
        process::run(
            Command::new("mono")
                .current_dir(&tools)
                .arg(tools.join("XspPatch.exe"))
                .arg(XSP4)
                .arg(tools.join("XmCdp.XspTlsStub.dll"))
                .arg(&xsp),
        )?;
        let tmp = work.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        let mut child = Command::new("mono")
            .current_dir(&site)
            .arg(xsp.join("xsp4.exe"))
            .args(["--address", "127.0.0.1", "--port", "0", "--nonstop", "--root"])
            .arg(&site)
            .args(["--applications", "/:."])
            .env("MONO_PATH", &xsp)
            .env("TMPDIR", &tmp)
            .env("MONO_MANAGED_WATCHER", "disabled")
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start xsp4 under mono: {e}"))?;
        let stdout = child.stdout.take().ok_or("no xsp4 stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(p) = line.split("Listening on port: ").nth(1) {
                    let _ = tx.send(p.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("xsp4 did not report its port within 60 s".into());
            }
        };
        Ok(XspSite {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _work: work,
        })
    }

    fn get(&self, path: &str, jar: &mut Jar) -> Result<Response, String> {
        self.get_as(path, jar, BROWSER_UA)
    }

    /// A GET as a browser would send it; applies the response's Set-Cookie headers to `jar`.
    fn get_as(&self, path: &str, jar: &mut Jar, user_agent: &str) -> Result<Response, String> {
        let started = Instant::now();
        let cookie = jar.header();
        let mut headers = vec![("User-Agent", user_agent)];
        if let Some(c) = cookie.as_deref() {
            headers.push(("Cookie", c));
        }
        let r = xmcdp_emulator_admin::send("GET", &format!("{}{path}", self.url), &headers, None)?;
        let elapsed = started.elapsed();
        let set_cookies: Vec<String> = r.headers_named("set-cookie").map(str::to_string).collect();
        let (status, body) = (r.status, r.body);
        for c in &set_cookies {
            jar.apply(c);
        }
        Ok(Response {
            status,
            set_cookies,
            body,
            elapsed,
        })
    }

    /// A page view by a named visitor, printed as one line (status, time, cookies set, what the page rendered).
    fn visit(&self, who: &str, path: &str, jar: &mut Jar) -> Result<Response, String> {
        let r = self.get(path, jar)?;
        let cookies: Vec<&str> = r
            .set_cookies
            .iter()
            .filter(|c| c.starts_with("bid_"))
            .map(|c| c.split(';').next().unwrap_or(""))
            .collect();
        let mut lines = r.body.lines();
        println!(
            "   {who:<26} GET {path:<58} {} {:>4} ms  {}{}",
            r.status,
            r.elapsed.as_millis(),
            lines.next().unwrap_or(""),
            if cookies.is_empty() {
                String::new()
            } else {
                format!("  Set-Cookie {}", cookies.join(","))
            }
        );
        for l in lines {
            println!("   {:<26}     {l}", "");
        }
        Ok(r)
    }
}

impl Drop for XspSite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
