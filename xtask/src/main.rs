//! The build driver: `cargo xtask test | demo | bench | bindings | dist | pack | release | soak | windows`.

mod bench;
mod bindings;
mod browser;
mod checks;
mod csharp_check;
mod demo;
mod demo_forms;
mod dist;
mod dotnet;
mod emulator_process;
mod fuzz;
mod pack;
mod pack_install;
mod process;
mod release;
#[cfg(test)]
mod sitecore_items;
mod soak;
mod test;
mod version;
mod windows;
mod windows_wine;

const USAGE: &str = "usage: cargo xtask <command>
  test       run every test layer (Rust, C smoke, bindings freshness, C# compile, .NET on Mono, the Windows DLL under Wine); prints `N passed, N failed`
  demo       start the emulator and an xsp4-hosted site with the shipped config, drive scripted visitors; print what CDP received
             and where the admin page is (--keep-running: the site stays up until Ctrl-C)
  dist       the site layout (bin/, bin/x64/, App_Config/Include/XmCdp/, INSTALL.md) in dist/ (--verify runs the .NET tests on it;
             --windows packages bin/x64/xmcdp.dll cross-built as by `windows`)
  pack       target/XmCdp.<version>.nupkg and target/XmCdp.Sitecore.<version>.nupkg (nuget 2.8 on Mono; installs it);
             --test then installs them into a scratch classic project and builds it with xbuild
  release    --dry-run: the whole suite, the Windows layer, pack and the install test; prints the artefacts with SHA-256
  bench      benchmarks (--quick: short run that fails when a headline ratio drops below half of its target; --build-only: compile every bench program, C# included); results in target/bench/results.json and BENCHMARKS.md
  bindings   regenerate bindings/c/xmcdp.h and bindings/csharp/Interop.cs
  browser    real-browser tests: Debian chromium + playwright-core against the test site (browser tag, VIEW owner,
             admin page; screenshot in target/browser/); prints `N passed, N failed`
  windows    cross-build xmcdp.dll (x86_64-pc-windows-gnu) and test it under Wine (installs mingw-w64, Wine, Debian's rustc-web)
  soak       long fault tests (60 s outage, kill -9 under load, randomized fault soak), release build (--debug for debug); prints the figures";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = if args.len() > 1 { &args[1..] } else { &[][..] };
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(rest),
        Some("demo") => demo::run(rest),
        Some("dist") => dist::run(rest),
        Some("bench") => bench::run(rest),
        Some("soak") => soak::run(rest),
        Some("pack") if rest == ["--test"] => pack_install::run(),
        Some("pack") => pack::run(rest).map(|_| ()),
        Some("release") => release::run(rest),
        Some("windows") => windows::run(rest),
        Some("browser") => browser::run(rest),
        Some("bindings") => bindings::generate(&process::repo_root()),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
