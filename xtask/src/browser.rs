//! `cargo xtask browser`: the real-browser layer. Debian's `chromium` (installed with apt-get when missing) driven
//! by `playwright-core` from npm, against the xsp4 test site (the SHIPPED XmCdp.config, the real native library)
//! with xmcdp-emulator as CDP. The Engage browser SDK is bundled by esbuild from the pinned `@sitecore/engage`
//! (`tests/browser/package-lock.json`, installed here with `npm ci`) into a script the test site serves, the
//! self-hosted copy of `browserTagScriptUrl`. Scenarios: `tests/browser/run.mjs`; the admin page screenshot is
//! written to `target/browser/admin-page.png`. Prints `N passed, N failed`.

use crate::demo::XspSite;
use crate::dotnet;
use crate::emulator_process::EmulatorProcess;
use crate::process::{self, cargo};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Site "shop" (its pages under /shop/) where the browser tag owns the VIEW, and consent required by the tracker:
/// a test include file, applied after the shipped one like any customer patch.
const TEST_INCLUDE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- TEST ONLY (cargo xtask browser): a second site whose VIEW the browser tag sends, and a consent cookie. -->
<configuration xmlns:patch="http://www.sitecore.net/xmlconfig/">
  <sitecore>
    <pipelines>
      <initialize>
        <processor type="XmCdp.Sitecore.Pipelines.Initialize.InitializeXmCdp, XmCdp.Sitecore">
          <sites hint="raw:AddSite">
            <site name="shop" clientKey="ck_test" pointOfSale="myretailsite/shop" currency="EUR" browserIdPoolSize="4"
                  browserTag="true" browserTagInject="true" browserTagScriptUrl="/__host/engage.js" viewOwner="browser" />
          </sites>
        </processor>
      </initialize>
      <httpRequestBegin>
        <processor type="XmCdp.Sitecore.Pipelines.HttpRequestBegin.TrackVisitor, XmCdp.Sitecore">
          <ConsentCookieName>consent</ConsentCookieName>
        </processor>
      </httpRequestBegin>
    </pipelines>
  </sitecore>
</configuration>
"#;

/// appSettings of the test site: the browser tag on for "website" (the server owns its VIEW), the emulator for "shop".
const APP_SETTINGS: &[(&str, &str)] = &[
    ("XmCdp.website.browserTag", "true"),
    ("XmCdp.website.browserTagInject", "true"),
    ("XmCdp.website.browserTagScriptUrl", "/__host/engage.js"),
    ("XmCdp.shop.targetUrl", "__EMULATOR_URL__"),
];

pub fn run(_args: &[String]) -> Result<(), String> {
    crate::checks::run_layer(test_layer)
}

/// The layer for `cargo xtask test`: (passed, failed) of the browser scenarios.
pub fn test_layer() -> Result<(u64, u64), String> {
    let root = process::repo_root();
    for tool in ["node", "npm", "mono"] {
        if !process::have(tool) {
            return Err(format!("`{tool}` is missing: run `bash .ci/run` once, or see the README prerequisites"));
        }
    }
    ensure_chromium()?;
    let harness = root.join("tests").join("browser");
    ensure_node_modules(&harness)?;

    println!("== browser: building the native library, the emulator and the C# assemblies");
    process::run(cargo().args(["build", "--quiet", "-p", "xmcdp", "--lib"]))?;
    process::run(cargo().args(["build", "--quiet", "-p", "xmcdp-emulator", "--bin", "xmcdp-emulator"]))?;
    let native = process::target_dir().join("debug").join(process::native_lib_name());
    let work = process::target_dir().join("browser");
    let out = work.join("dotnet");
    dotnet::build(&root, &out)?;
    prepare_site(&out.join("site"), &harness)?;

    let emu = EmulatorProcess::start(&[])?;
    let site = XspSite::start(&out, &native, &emu.url)?;
    println!("== browser: emulator {} , test site {}", emu.url, site.url);
    let screenshot = work.join("admin-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let (_, output) = process::run_tee(
        Command::new("node")
            .arg(harness.join("run.mjs"))
            .current_dir(&harness)
            .env("SITE_URL", &site.url)
            .env("EMULATOR_URL", &emu.url)
            .env("SCREENSHOT", &screenshot)
            .env("CHROMIUM", CHROMIUM),
    );
    drop(site);
    let counts = output.lines().rev().find_map(parse_counts).ok_or("the browser run printed no `N passed, N failed` line")?;
    if counts.1 == 0 && !screenshot.is_file() {
        return Err(format!("no admin page screenshot at {}", screenshot.display()));
    }
    println!("== browser: admin page screenshot: {}", screenshot.display());
    Ok(counts)
}

/// The self-hosted Engage bundle, the test include and the appSettings, in the site template copy of this run.
fn prepare_site(site: &Path, harness: &Path) -> Result<(), String> {
    let script = site.join("engage").join("engage.js");
    process::run(Command::new("node").arg(harness.join("build-engage.mjs")).arg(&script).current_dir(harness))?;
    let include = site.join("App_Config").join("Include").join("zzBrowserTests");
    std::fs::create_dir_all(&include).map_err(|e| e.to_string())?;
    std::fs::write(include.join("XmCdp.BrowserTests.config"), TEST_INCLUDE).map_err(|e| e.to_string())?;
    let web_config = site.join("web.config");
    let mut text = std::fs::read_to_string(&web_config).map_err(|e| e.to_string())?;
    let lines: String = APP_SETTINGS.iter().map(|(k, v)| format!("    <add key=\"{k}\" value=\"{v}\" />\n")).collect();
    text = text.replacen("  </appSettings>", &format!("{lines}  </appSettings>"), 1);
    std::fs::write(&web_config, text).map_err(|e| e.to_string())
}

fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    println!("== browser: installing Debian's chromium (apt-get)");
    process::run(crate::windows::apt_get().args(["update", "-qq"]))?;
    process::run(crate::windows::apt_get().args(["install", "-y", "-qq", "chromium"]))
        .map_err(|e| format!("{e} (the browser layer needs Debian's chromium; run as root or with sudo)"))
}

/// `npm ci` from the committed lock file when a pinned package is missing.
fn ensure_node_modules(harness: &Path) -> Result<(), String> {
    let modules: PathBuf = harness.join("node_modules");
    let ready = ["@sitecore/engage", "esbuild", "playwright-core"].iter().all(|p| modules.join(p).join("package.json").is_file());
    if ready {
        return Ok(());
    }
    println!("== browser: npm ci (tests/browser)");
    process::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(harness))
}

fn parse_counts(line: &str) -> Option<(u64, u64)> {
    let line = line.trim();
    let (p, rest) = line.split_once(" passed, ")?;
    let f = rest.strip_suffix(" failed")?;
    Some((p.trim().parse().ok()?, f.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse_counts;

    #[test]
    fn reads_the_closing_line() {
        assert_eq!(parse_counts("6 passed, 0 failed"), Some((6, 0)));
        assert_eq!(parse_counts("  3 passed, 2 failed "), Some((3, 2)));
        assert_eq!(parse_counts("ok   first visit"), None);
    }
}
