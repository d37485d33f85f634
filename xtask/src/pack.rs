//! `cargo xtask pack`: `target/XmCdp.<version>.nupkg` and `target/XmCdp.Sitecore.<version>.nupkg`.
//!
//! The packages are cut from the dist layout (`dist.rs`, with the cross-built, stripped `xmcdp.dll`), file for
//! file through [`LAYOUT`], so site folder and packages cannot drift: a dist file that no package carries (and
//! that is not listed as dist-only) fails the pack. Layout, following SkiaSharp's packages for .NET Framework:
//!
//! ```text
//! XmCdp:           lib/net48/XmCdp.dll, runtimes/win-x64/native/xmcdp.dll, build/net48/XmCdp.targets
//! XmCdp.Sitecore:  lib/net48/XmCdp.Sitecore.dll, content/App_Config/Include/XmCdp/XmCdp.config,
//!                  content/sitecore/admin/xmcdp.aspx, build/net48/XmCdp.Sitecore.targets,
//!                  tools/web.config.XmCdp.xdt, tools/serialization/** (the Sitecore items);
//!                  depends on XmCdp [same version], nothing else
//! ```
//!
//! Debian's `nuget` 2.8 (Mono) packs from `nuget/*.nuspec`. Its schema predates `<license type="expression">`
//! (NuGet 4.9), so the element is added to the packed `.nuspec` afterwards, next to the `licenses.nuget.org`
//! `licenseUrl` that modern `nuget pack` also writes for old clients; 2.8 installs such a package unchanged
//! (`pack_install.rs` does exactly that).

use crate::process;
use crate::version;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const IDS: [&str; 2] = ["XmCdp", "XmCdp.Sitecore"];
pub const LICENSE: &str = "MIT OR Apache-2.0";

/// dist path → (package id, path inside the package).
pub const LAYOUT: [(&str, &str, &str); 6] = [
    ("bin/XmCdp.dll", "XmCdp", "lib/net48/XmCdp.dll"),
    ("bin/x64/xmcdp.dll", "XmCdp", "runtimes/win-x64/native/xmcdp.dll"),
    ("bin/XmCdp.Sitecore.dll", "XmCdp.Sitecore", "lib/net48/XmCdp.Sitecore.dll"),
    ("App_Config/Include/XmCdp/XmCdp.config", "XmCdp.Sitecore", "content/App_Config/Include/XmCdp/XmCdp.config"),
    ("sitecore/admin/xmcdp.aspx", "XmCdp.Sitecore", "content/sitecore/admin/xmcdp.aspx"),
    // A web.config transform is applied by the site's deployment (XDT step), never copied into the site: `tools/`
    // is NuGet's folder for files a package carries but does not add to the project.
    ("Transforms/web.config.XmCdp.xdt", "XmCdp.Sitecore", "tools/web.config.XmCdp.xdt"),
];
/// dist folder → (package id, folder inside the package): every file below it, kept in its place. The Sitecore
/// Content Serialization module is the solution's to push (`dotnet sitecore ser push`), so it goes under `tools/`.
pub const FOLDERS: [(&str, &str, &str); 1] = [("serialization/", "XmCdp.Sitecore", "tools/serialization/")];
/// Carried by a package but not deployed into the site by building the project (see `tools/` above).
pub const NOT_DEPLOYED: [&str; 1] = ["Transforms/web.config.XmCdp.xdt"];

/// Whether building a project that references the packages puts this dist file into the site.
pub fn deployed(dist_file: &str) -> bool {
    !DIST_ONLY.contains(&dist_file) && !NOT_DEPLOYED.contains(&dist_file) && !FOLDERS.iter().any(|(d, _, _)| dist_file.starts_with(d))
}
/// In the dist folder only: the package description and the README say the same.
pub const DIST_ONLY: [&str; 1] = ["INSTALL.md"];
/// Package-only files: the MSBuild glue (`nuget/build/`), named `<id>.targets` so NuGet imports it.
pub const TARGETS: [(&str, &str); 2] = [("XmCdp", "build/net48/XmCdp.targets"), ("XmCdp.Sitecore", "build/net48/XmCdp.Sitecore.targets")];

pub struct Packed {
    pub version: String,
    /// The dist layout the packages were cut from (`target/pack/dist`).
    pub dist: PathBuf,
    pub nupkgs: Vec<PathBuf>,
}

pub fn run(args: &[String]) -> Result<Packed, String> {
    if let Some(a) = args.first() {
        return Err(format!("pack: unknown argument `{a}` (it takes none)"));
    }
    let root = process::repo_root();
    ensure_nuget()?;
    let v = version::crate_version(&root)?;
    if version::version_number(&v) != Some(xmcdp::ffi::VERSION_NUMBER) {
        return Err(format!("Cargo.toml says {v} but xmcdp_version() is {}: rebuild xtask", xmcdp::ffi::VERSION_NUMBER));
    }
    let notes = release_notes(&root, &v)?;
    let project_url = project_url(&root)?;
    if project_url.is_none() {
        println!("pack: WARNING: Cargo.toml has no `repository` URL, so the packages carry no projectUrl");
    }

    let work = process::target_dir().join("pack");
    let _ = fs::remove_dir_all(&work);
    println!("== pack: cross-building xmcdp.dll (release)");
    let native = crate::windows::build_release()?;
    println!("== pack: compiling XmCdp.dll and XmCdp.Sitecore.dll (mcs -sdk:4.8)");
    let assemblies = crate::dotnet::build_shipped(&root, &work.join("build"))?;
    let dist = work.join("dist");
    crate::dist::assemble(&root, &dist, &assemblies, &native)?;
    check_layout_covers(&crate::dist::list(&dist)?)?;

    let mut nupkgs = Vec::new();
    for id in IDS {
        let stage = work.join("stage").join(id);
        for (from, pkg, to) in LAYOUT.iter().filter(|(_, p, _)| *p == id) {
            debug_assert_eq!(*pkg, id);
            copy(&dist.join(from), &stage.join(to))?;
        }
        for f in crate::dist::list(&dist)? {
            let f = f.to_string_lossy().replace('\\', "/");
            for (d, _, to) in FOLDERS.iter().filter(|(d, p, _)| *p == id && f.starts_with(d)) {
                copy(&dist.join(&f), &stage.join(format!("{to}{}", &f[d.len()..])))?;
            }
        }
        for (_, t) in TARGETS.iter().filter(|(p, _)| *p == id) {
            copy(&root.join("nuget/build").join(Path::new(t).file_name().unwrap_or_default()), &stage.join(t))?;
        }
        let template = fs::read_to_string(root.join(format!("nuget/{id}.nuspec"))).map_err(|e| format!("nuget/{id}.nuspec: {e}"))?;
        let nuspec = stage.join(format!("{id}.nuspec"));
        fs::write(&nuspec, fill(&template, &v, &notes, project_url.as_deref())).map_err(|e| e.to_string())?;
        let out = process::target_dir();
        let nupkg = out.join(format!("{id}.{v}.nupkg"));
        let _ = fs::remove_file(&nupkg);
        println!("== pack: nuget pack {id}.nuspec");
        process::run(
            Command::new("nuget")
                .current_dir(&stage)
                .arg("pack")
                .arg(&nuspec)
                .arg("-OutputDirectory")
                .arg(&out)
                .args(["-NoPackageAnalysis", "-NonInteractive"]),
        )?;
        add_license_expression(&nupkg, id)?;
        nupkgs.push(nupkg);
    }
    for p in &nupkgs {
        println!("  {}", p.display());
    }
    Ok(Packed { version: v, dist, nupkgs })
}

/// Every dist file goes into a package or is listed as dist-only; every layout entry exists in dist.
pub fn check_layout_covers(dist_files: &[PathBuf]) -> Result<(), String> {
    let files: Vec<String> = dist_files.iter().map(|p| p.to_string_lossy().replace('\\', "/")).collect();
    let unpacked: Vec<&String> = files
        .iter()
        .filter(|f| !LAYOUT.iter().any(|(d, _, _)| d == f) && !FOLDERS.iter().any(|(d, _, _)| f.starts_with(d)) && !DIST_ONLY.contains(&f.as_str()))
        .collect();
    let missing: Vec<&str> = LAYOUT
        .iter()
        .map(|(d, _, _)| *d)
        .chain(FOLDERS.iter().map(|(d, _, _)| *d))
        .filter(|d| !files.iter().any(|f| f == d || (d.ends_with('/') && f.starts_with(d))))
        .collect();
    if unpacked.is_empty() && missing.is_empty() {
        Ok(())
    } else {
        Err(format!("dist layout and packages drifted: in dist but in no package {unpacked:?}; packaged but not in dist {missing:?} (update LAYOUT in xtask/src/pack.rs)"))
    }
}

fn fill(template: &str, v: &str, notes: &str, project_url: Option<&str>) -> String {
    let url = project_url.map(|u| format!("<projectUrl>{}</projectUrl>", xml_escape(u))).unwrap_or_default();
    template.replace("$version$", v).replace("$releaseNotes$", &xml_escape(notes)).replace("<!--PROJECTURL-->", &url)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The `## [version]` section of CHANGELOG.md, without its heading.
pub fn release_notes(root: &Path, v: &str) -> Result<String, String> {
    let text = fs::read_to_string(root.join("CHANGELOG.md")).map_err(|e| format!("CHANGELOG.md: {e}"))?;
    let head = format!("## [{v}]");
    let start = text.find(&head).ok_or_else(|| format!("CHANGELOG.md has no `{head}` section for the release notes"))?;
    let body = &text[start..];
    let body = &body[body.find('\n').unwrap_or(body.len())..];
    let end = body.find("\n## ").or_else(|| body.find("\n[")).unwrap_or(body.len());
    Ok(body[..end].trim().to_string())
}

/// `repository = "…"` of the root `[package]`, the one place the project's URL would be stated.
fn project_url(root: &Path) -> Result<Option<String>, String> {
    let toml = fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    Ok(toml
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("repository").and_then(|r| r.trim().strip_prefix('=')).map(|r| r.trim().trim_matches('"').to_string())))
}

/// Rewrites the packed `.nuspec` entry with `<license type="expression">`; other entries are copied raw.
fn add_license_expression(nupkg: &Path, id: &str) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", nupkg.display());
    let mut src = zip::ZipArchive::new(fs::File::open(nupkg).map_err(|e| err(&e))?).map_err(|e| err(&e))?;
    let tmp = nupkg.with_extension("nupkg.tmp");
    let mut dst = zip::ZipWriter::new(fs::File::create(&tmp).map_err(|e| err(&e))?);
    let name = format!("{id}.nuspec");
    let mut found = false;
    for i in 0..src.len() {
        let entry = src.by_index_raw(i).map_err(|e| err(&e))?;
        if entry.name() != name {
            dst.raw_copy_file(entry).map_err(|e| err(&e))?;
            continue;
        }
        drop(entry);
        let mut text = String::new();
        src.by_index(i).map_err(|e| err(&e))?.read_to_string(&mut text).map_err(|e| err(&e))?;
        let marker = "<licenseUrl>";
        if !text.contains(marker) {
            return Err(format!("{name} in {} has no licenseUrl to put the license expression before", nupkg.display()));
        }
        let text = text.replacen(marker, &format!("<license type=\"expression\">{LICENSE}</license>\n    {marker}"), 1);
        dst.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).map_err(|e| err(&e))?;
        dst.write_all(text.as_bytes()).map_err(|e| err(&e))?;
        found = true;
    }
    dst.finish().map_err(|e| err(&e))?;
    if !found {
        return Err(format!("{} has no {name}", nupkg.display()));
    }
    fs::rename(&tmp, nupkg).map_err(|e| err(&e))
}

/// The entries of a package, sorted.
pub fn entries(nupkg: &Path) -> Result<Vec<String>, String> {
    let z = zip::ZipArchive::new(fs::File::open(nupkg).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", nupkg.display()))?;
    let mut names: Vec<String> = z.file_names().map(str::to_string).collect();
    names.sort();
    Ok(names)
}

pub fn read_entry(nupkg: &Path, name: &str) -> Result<Vec<u8>, String> {
    let mut z = zip::ZipArchive::new(fs::File::open(nupkg).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    z.by_name(name).map_err(|e| format!("{}: {name}: {e}", nupkg.display()))?.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Debian's `nuget` (2.8, on Mono) and Mono's `xbuild`; installed when missing, as everything else the layers need.
pub fn ensure_nuget() -> Result<(), String> {
    let missing: Vec<&str> = [("nuget", "nuget"), ("xbuild", "mono-xbuild")].iter().filter(|(t, _)| !process::have(t)).map(|(_, p)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("== pack: installing {}", missing.join(", "));
    let install = || Command::new("apt-get").args(["install", "-y", "-q"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive").status();
    if !install().map(|s| s.success()).unwrap_or(false) {
        process::run(Command::new("apt-get").args(["update", "-q"]))?;
        process::run(Command::new("apt-get").args(["install", "-y", "-q"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    match ["nuget", "xbuild"].iter().find(|t| !process::have(t)) {
        Some(t) => Err(format!("{t} is still missing after apt-get install {}", missing.join(" "))),
        None => Ok(()),
    }
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_guard_names_the_drift() {
        let ok: Vec<PathBuf> = LAYOUT
            .iter()
            .map(|(d, _, _)| PathBuf::from(d))
            .chain([PathBuf::from("INSTALL.md"), PathBuf::from("serialization/XmCdp.module.json")])
            .collect();
        check_layout_covers(&ok).unwrap();
        let mut extra = ok.clone();
        extra.push(PathBuf::from("bin/x86/xmcdp.dll"));
        assert!(check_layout_covers(&extra).unwrap_err().contains("bin/x86/xmcdp.dll"));
        let e = check_layout_covers(&ok[1..]).unwrap_err();
        assert!(e.contains("bin/XmCdp.dll"), "{e}");
        // A packaged folder with nothing in dist is drift too.
        let e = check_layout_covers(&ok[..ok.len() - 1]).unwrap_err();
        assert!(e.contains("serialization/"), "{e}");
    }

    /// nuget packs only what a template's `<files>` names: a LAYOUT entry missing there would be dropped silently
    /// until the install test notices; this names it at once.
    #[test]
    fn nuspec_files_are_the_layout_and_the_targets() {
        let root = process::repo_root();
        for id in IDS {
            let t = fs::read_to_string(root.join(format!("nuget/{id}.nuspec"))).unwrap();
            let mut listed: Vec<&str> = t.match_indices("<file src=\"").map(|(i, m)| &t[i + m.len()..]).map(|r| &r[..r.find('"').unwrap()]).collect();
            listed.sort();
            let mut want: Vec<&str> = LAYOUT.iter().filter(|(_, p, _)| *p == id).map(|(_, _, e)| *e).collect();
            want.extend(TARGETS.iter().filter(|(p, _)| *p == id).map(|(_, e)| *e));
            let folders: Vec<String> = FOLDERS.iter().filter(|(_, p, _)| *p == id).map(|(_, _, e)| format!("{e}**")).collect();
            want.extend(folders.iter().map(String::as_str));
            want.sort();
            assert_eq!(listed, want, "nuget/{id}.nuspec <files>");
            for (_, _, e) in LAYOUT.iter().filter(|(_, p, _)| *p == id) {
                let dir = Path::new(e).parent().unwrap().to_string_lossy().into_owned();
                assert!(t.contains(&format!("<file src=\"{e}\" target=\"{dir}\" />")), "{id}.nuspec: {e} must land in {dir}");
            }
        }
    }

    #[test]
    fn release_notes_come_from_the_changelog_section_of_this_version() {
        let root = process::repo_root();
        let v = version::crate_version(&root).unwrap();
        let notes = release_notes(&root, &v).unwrap();
        assert!(!notes.is_empty() && !notes.contains("## ["), "{notes}");
        assert!(release_notes(&root, "99.99.99").is_err());
    }

    #[test]
    fn nuspec_templates_state_what_the_issue_requires() {
        let root = process::repo_root();
        for id in IDS {
            let t = fs::read_to_string(root.join(format!("nuget/{id}.nuspec"))).unwrap();
            for needle in [format!("<id>{id}</id>"), "<authors>".into(), "<description>".into(), "licenses.nuget.org".into(), "<!--PROJECTURL-->".into()] {
                assert!(t.contains(&needle), "{id}.nuspec lacks {needle}");
            }
            assert!(!t.contains("Sitecore.Kernel\""), "{id}: Sitecore.Kernel is the site's own");
            let filled = fill(&t, "1.2.3", "a < b & c", Some("https://example.invalid/x"));
            assert!(filled.contains("<version>1.2.3</version>") && filled.contains("a &lt; b &amp; c"));
            assert!(filled.contains("<projectUrl>https://example.invalid/x</projectUrl>"));
        }
    }
}
