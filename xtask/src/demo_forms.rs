//! The demo's Sitecore Forms and rules step: a visitor reads the rule-personalized page, submits the contact form
//! (its submit actions send a goal and an IDENTITY and write a guest data extension), and reads the page again:
//! the renderings' data sources switch with the decision's variant and the now-identified guest.

use std::time::{Duration, Instant};
use xmcdp_emulator_admin::{send, Admin};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/// Runs the step against the demo site at `site_url` and the emulator behind `admin`.
pub fn run(site_url: &str, emulator_url: &str, admin: &Admin) -> Result<(), String> {
    println!("\n== Sitecore Forms submit actions and CDP rules (conditional renderings)");
    let bid = admin.create_browser()?;
    let cookie = format!("bid_ck_test={bid}");
    let headers = [("User-Agent", UA), ("Cookie", cookie.as_str())];
    let page = |label: &str| -> Result<String, String> {
        let r = send("GET", &format!("{site_url}/personalized"), &headers, None)?;
        let lines: Vec<&str> = r.body.lines().filter(|l| l.starts_with("rendering ") || l.starts_with("served ")).collect();
        println!("   {label:<22} GET /personalized -> {}", lines.join(" | "));
        Ok(r.body)
    };
    page("carol (anonymous)")?;

    let email = format!("carol{:x}@example.com", std::process::id());
    let form = format!("Email={}&FirstName=Carol&LastName=Demo&Topic=bikes&Interests=road&Interests=gravel", email.replace('@', "%40"));
    let post_headers = [("User-Agent", UA), ("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    let r = send("POST", &format!("{site_url}/formbuilder?form=contact"), &post_headers, Some(&form))?;
    println!("   {:<22} POST /formbuilder?form=contact (Send CDP event, Identify visitor, Save to data extension) -> {}", "carol submits", r.body.trim());

    // Delivery is asynchronous: wait for the goal and the IDENTITY to reach CDP.
    let started = Instant::now();
    let types = loop {
        let events = admin.events_of(&bid)?;
        let types: Vec<String> =
            events["items"].as_array().into_iter().flatten().filter_map(|e| e["type"].as_str().map(str::to_string)).collect();
        if (types.iter().any(|t| t == "NEWSLETTER_SIGNUP") && types.iter().any(|t| t == "IDENTITY")) || started.elapsed() > Duration::from_secs(10) {
            break types;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("   CDP received for carol's browser: {}", types.join(" "));
    for e in admin.events_of(&bid)?["items"].as_array().into_iter().flatten() {
        match e["type"].as_str() {
            Some("NEWSLETTER_SIGNUP") => println!("     goal NEWSLETTER_SIGNUP topic={} interests={}", e["body"]["topic"], e["body"]["interests"]),
            Some("IDENTITY") => println!("     IDENTITY identifiers={}", e["body"]["identifiers"]),
            _ => {}
        }
    }
    let show = xmcdp_emulator_admin::get_json(&format!("{emulator_url}/v1.2/browser/{bid}/show.json?client_key=ck_test"))?;
    let guest_ref = show["customer"]["ref"].as_str().unwrap_or_default().to_string();
    let auth = "Basic Y2tfdGVzdDp0b2tfdGVzdA=="; // ck_test:tok_test, the emulator's demo tenant
    let ext = send("GET", &format!("{emulator_url}/v2.1/guests/{guest_ref}/extensions/ext"), &[("Authorization", auth)], None)?;
    let ext = ext.json().unwrap_or_default();
    let guest = admin.guest(&guest_ref)?;
    println!(
        "   guest {guest_ref}: guestType={} email={} data extension ext.newsletterTopic={}",
        guest["guestType"], guest["email"], ext["newsletterTopic"]
    );

    // The emulator applies the IDENTITY when delivered; the next page's rules see the known guest.
    let started = Instant::now();
    loop {
        let body = send("GET", &format!("{site_url}/personalized"), &headers, None)?.body;
        if body.contains("datasource=welcome-back") || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    page("carol (identified)")?;
    Ok(())
}
