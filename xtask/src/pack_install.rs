//! The install test of the NuGet packages (a layer of `cargo xtask test`, and part of `release --dry-run`).
//!
//! `cargo xtask pack`, then Debian's `nuget` 2.8 installs `XmCdp.Sitecore` (and through its dependency `XmCdp`)
//! from a folder feed into a scratch solution's `packages\`, the way a packages.config restore lays them out. A
//! classic net48 web application project references the assemblies with `HintPath`s and imports the packages'
//! targets exactly as Visual Studio writes them; Mono's `xbuild` builds it. Checked: the site gets
//! `bin\x64\xmcdp.dll`, the managed DLLs, `App_Config\Include\XmCdp\XmCdp.config` and the admin page
//! `sitecore\admin\xmcdp.aspx`, byte for byte the files of the dist layout the packages were cut from; an edited
//! config survives an update and a rebuild, a stale admin page does not; the `.nuspec` metadata; and the rules
//! NuGet applies to PackageReference projects, which cannot be built here (no .NET SDK).

use crate::checks::Checks;
use crate::pack::{self, Packed};
use std::fs;
use std::path::Path;
use std::process::Command;

/// The layer for `cargo xtask test`: Ok((passed, failed)), Err when it could not run.
pub fn test_layer() -> Result<(u64, u64), String> {
    let packed = pack::run(&[])?;
    let mut t = Checks::new("pack");
    check(&packed, &mut t)?;
    Ok((t.passed, t.failed))
}

/// `cargo xtask pack --test`.
pub fn run() -> Result<(), String> {
    crate::checks::run_layer(test_layer)
}

pub fn check(p: &Packed, t: &mut Checks) -> Result<(), String> {
    let v = &p.version;
    let work = crate::process::target_dir().join("pack-install");
    let _ = fs::remove_dir_all(&work);
    let feed = work.join("feed");
    fs::create_dir_all(&feed).map_err(|e| e.to_string())?;
    for n in &p.nupkgs {
        fs::copy(n, feed.join(n.file_name().unwrap_or_default())).map_err(|e| e.to_string())?;
    }
    check_packages(p, t)?;

    // nuget 2.8 install from the folder feed only (no network source), dependency included.
    let sln = work.join("Solution");
    let packages = sln.join("packages");
    let out = crate::windows::command_output(
        Command::new("nuget")
            .args(["install", "XmCdp.Sitecore", "-Version", v, "-Source"])
            .arg(&feed)
            .arg("-OutputDirectory")
            .arg(&packages)
            .arg("-NonInteractive")
            .env("HOME", &work), // keeps nuget's machine-wide config and cache out of the test
    )?;
    for id in pack::IDS {
        t.check(
            &format!("nuget 2.8 installs {id} {v}"),
            packages.join(format!("{id}.{v}")).join(format!("{id}.{v}.nupkg")).is_file(),
            format!("nuget install printed: {}", out.trim()),
        );
    }
    // The serialization module lands in the installed package's tools/, ready for the solution's sitecore.json.
    for (d, id, to) in pack::FOLDERS {
        let module = format!("{d}XmCdp.module.json");
        let installed = packages.join(format!("{id}.{v}")).join(format!("{to}XmCdp.module.json"));
        let item = packages.join(format!("{id}.{v}")).join(format!("{to}items/rules/XmCdp/CDP decision returns variant.yml"));
        t.check(
            &format!("the installed {id} has {to}XmCdp.module.json and its items (file names with spaces intact)"),
            fs::read(&installed).ok().is_some() && fs::read(&installed).ok() == fs::read(p.dist.join(&module)).ok() && item.is_file(),
            format!("{} / {}", installed.display(), item.display()),
        );
    }

    let site = sln.join("Site");
    fs::create_dir_all(site.join("Properties")).map_err(|e| e.to_string())?;
    fs::write(site.join("Site.csproj"), site_csproj(v)).map_err(|e| e.to_string())?;
    fs::write(site.join("packages.config"), packages_config(v)).map_err(|e| e.to_string())?;
    // Code that uses XmCdp, so its HintPath reference is a real compile reference.
    fs::write(
        site.join("Probe.cs"),
        "namespace Site { public static class Probe { public static readonly string Type = typeof(XmCdp.CdpClient).FullName; } }\n",
    )
    .map_err(|e| e.to_string())?;

    xbuild(&site, t, "xbuild builds the classic project with the packages' targets")?;
    let shipped: Vec<String> =
        crate::dist::list(&p.dist)?.iter().map(|f| f.to_string_lossy().into_owned()).filter(|f| pack::deployed(f)).collect();
    for f in &shipped {
        let (a, b) = (fs::read(p.dist.join(f)).ok(), fs::read(site.join(f)).ok());
        t.check(&format!("the site has {f}, identical to dist/{f}"), a.is_some() && a == b, if b.is_none() { "missing" } else { "differs" });
    }
    // Nothing of ours beyond the dist layout, and nothing where the ASP.NET bin scan or the loader would trip.
    let ours: Vec<String> = crate::dist::list(&site)?
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .filter(|f| f.starts_with("App_Config/") || f.starts_with("bin/x64/") || f.to_lowercase().starts_with("bin/xmcdp") || f.starts_with("sitecore/"))
        .filter(|f| f.ends_with(".dll") || f.ends_with(".config") || f.ends_with(".aspx"))
        .collect();
    t.check("the site's XmCdp files are exactly the dist layout's", ours == shipped, format!("site {ours:?} vs dist {shipped:?}"));
    t.check("no native xmcdp.dll directly in bin (the ASP.NET bin scan)", !site.join("bin/xmcdp.dll").exists(), "bin/xmcdp.dll exists");
    t.check("no Sitecore.Kernel.dll shipped into bin", !site.join("bin/Sitecore.Kernel.dll").exists(), "bin/Sitecore.Kernel.dll exists");

    // A site edits its config; a rebuild (as after a package update) keeps the edit.
    let config = site.join("App_Config/Include/XmCdp/XmCdp.config");
    let edited = format!("{}<!-- edited by the site -->\n", fs::read_to_string(&config).unwrap_or_default());
    fs::write(&config, &edited).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(site.join("bin/x64/xmcdp.dll"));
    // An admin page from an older version (it names a class of the old XmCdp.Sitecore.dll) must not survive.
    let page = site.join("sitecore/admin/xmcdp.aspx");
    fs::create_dir_all(site.join("sitecore/admin")).map_err(|e| e.to_string())?;
    fs::write(&page, "<%@ Page Inherits=\"XmCdp.Sitecore.Admin.OldPage, XmCdp.Sitecore\" %>").map_err(|e| e.to_string())?;
    xbuild(&site, t, "xbuild rebuilds after the site edited its config")?;
    t.check("the site's edited XmCdp.config is not overwritten", fs::read_to_string(&config).ok().as_deref() == Some(edited.as_str()), "the edit was lost");
    t.check("a rebuild restores bin\\x64\\xmcdp.dll", site.join("bin/x64/xmcdp.dll").is_file(), "missing after rebuild");
    let shipped_page = fs::read(p.dist.join("sitecore/admin/xmcdp.aspx")).ok();
    t.check("a rebuild replaces a stale sitecore\\admin\\xmcdp.aspx with the package's", shipped_page.is_some() && fs::read(&page).ok() == shipped_page, "the old page is still there");
    Ok(())
}

/// What the packages say about themselves, and NuGet's layout rules for PackageReference projects.
fn check_packages(p: &Packed, t: &mut Checks) -> Result<(), String> {
    let v = &p.version;
    for (id, nupkg) in pack::IDS.iter().zip(&p.nupkgs) {
        let entries = pack::entries(nupkg)?;
        let mut want: Vec<String> = pack::LAYOUT.iter().filter(|(_, i, _)| i == id).map(|(_, _, e)| e.to_string()).collect();
        want.extend(pack::TARGETS.iter().filter(|(i, _)| i == id).map(|(_, e)| e.to_string()));
        // Folders (the serialization module): dist file → package entry, every file below the folder.
        let mut folder_files: Vec<(String, String)> = Vec::new();
        for f in crate::dist::list(&p.dist)?.iter().map(|f| f.to_string_lossy().replace('\\', "/")) {
            for (d, _, to) in pack::FOLDERS.iter().filter(|(d, i, _)| i == id && f.starts_with(d)) {
                folder_files.push((f.clone(), format!("{to}{}", &f[d.len()..])));
            }
        }
        want.extend(folder_files.iter().map(|(_, e)| e.clone()));
        want.push(format!("{id}.nuspec"));
        want.sort();
        // OPC part names escape spaces ("CDP decision returns variant.yml"); nuget install unescapes them.
        let mut payload: Vec<String> = entries
            .iter()
            .filter(|e| !(e.starts_with("_rels/") || e.starts_with("package/services/") || *e == "[Content_Types].xml"))
            .map(|e| e.replace("%20", " "))
            .collect();
        payload.sort();
        t.check(&format!("{id}.nupkg holds exactly {want:?}"), payload == want, format!("holds {payload:?}"));
        for (d, _, e) in pack::LAYOUT.iter().filter(|(_, i, _)| i == id) {
            let same = pack::read_entry(nupkg, e).ok() == fs::read(p.dist.join(d)).ok();
            t.check(&format!("{id}: {e} is dist/{d}"), same, "differs");
        }
        if !folder_files.is_empty() {
            let differ: Vec<&String> = folder_files
                .iter()
                .filter(|(d, e)| pack::read_entry(nupkg, &e.replace(' ', "%20")).or_else(|_| pack::read_entry(nupkg, e)).ok() != fs::read(p.dist.join(d)).ok())
                .map(|(d, _)| d)
                .collect();
            t.check(&format!("{id}: its {} folder files are dist's, byte for byte", folder_files.len()), differ.is_empty(), format!("{differ:?} differ"));
        }
        let nuspec = String::from_utf8(pack::read_entry(nupkg, &format!("{id}.nuspec"))?).map_err(|e| e.to_string())?;
        for needle in [
            format!("<id>{id}</id>"),
            format!("<version>{v}</version>"),
            format!("<license type=\"expression\">{}</license>", pack::LICENSE),
            "<authors>".to_string(),
            "<description>".to_string(),
            "<releaseNotes>".to_string(),
        ] {
            t.check(&format!("{id}.nuspec has {needle}"), nuspec.contains(&needle), "missing");
        }
        let deps: Vec<&str> = nuspec.match_indices("<dependency ").map(|(i, _)| &nuspec[i..nuspec[i..].find("/>").map_or(nuspec.len(), |e| i + e)]).collect();
        let expected: Vec<String> = if *id == "XmCdp" { vec![] } else { vec![format!("<dependency id=\"XmCdp\" version=\"[{v}]\" ")] };
        t.check(&format!("{id}: runtime dependencies are {expected:?} only"), deps == expected, format!("{deps:?}"));
        // The assemblies carry the package's version (Properties.Version.g.cs), API hash included.
        let info = crate::version::informational(v, crate::version::api_hash());
        for (_, _, e) in pack::LAYOUT.iter().filter(|(_, i, e)| i == id && e.starts_with("lib/")) {
            let dll = pack::read_entry(nupkg, e)?;
            t.check(&format!("{id}: {e} has AssemblyInformationalVersion {info}"), dll.windows(info.len()).any(|w| w == info.as_bytes()), "not found in the assembly");
        }
        // PackageReference rules (NuGet's asset selection): build/<tfm>/<id>.targets is the only targets file
        // imported; lib/<tfm>/ gives compile and runtime assemblies; runtimes/<rid>/native/ native assets.
        t.check(&format!("{id}: build targets named {id}.targets (imported by NuGet)"), entries.contains(&format!("build/net48/{id}.targets")), "missing");
        t.check(&format!("{id}: assemblies under lib/net48/ only"), entries.iter().filter(|e| e.ends_with(".dll") && !e.starts_with("runtimes/")).all(|e| e.starts_with("lib/net48/")), "a managed DLL elsewhere");
    }
    let native = pack::read_entry(&p.nupkgs[0], "runtimes/win-x64/native/xmcdp.dll")?;
    t.check("runtimes/win-x64/native/xmcdp.dll is a stripped PE32+ x64 DLL", is_pe_x64(&native) && native.len() < 30 << 20, format!("{} bytes", native.len()));
    Ok(())
}


fn is_pe_x64(b: &[u8]) -> bool {
    let pe = b.get(0x3c..0x40).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize);
    b.starts_with(b"MZ") && pe.is_some_and(|o| b.get(o..o + 6) == Some(&[b'P', b'E', 0, 0, 0x64, 0x86]))
}

fn xbuild(site: &Path, t: &mut Checks, name: &str) -> Result<(), String> {
    let out = Command::new("xbuild")
        .current_dir(site)
        .args(["/nologo", "/verbosity:minimal", "/p:Configuration=Release", "Site.csproj"])
        .output()
        .map_err(|e| format!("cannot start xbuild: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    t.check(name, out.status.success(), text.lines().filter(|l| l.contains("error")).take(5).collect::<Vec<_>>().join(" | "));
    Ok(())
}

fn packages_config(v: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<packages>\n  <package id=\"XmCdp\" version=\"{v}\" targetFramework=\"net48\" />\n  \
         <package id=\"XmCdp.Sitecore\" version=\"{v}\" targetFramework=\"net48\" />\n</packages>\n"
    )
}

/// A classic web application project after "Install-Package XmCdp.Sitecore", as Visual Studio writes it: HintPath
/// references and, per package with build targets, the `<Import>` plus the EnsureNuGetPackageBuildImports guard.
/// (Microsoft.WebApplication.targets is not on Mono; Visual Studio imports it with a condition too.)
fn site_csproj(v: &str) -> String {
    let mut imports = String::new();
    let mut errors = String::new();
    for id in pack::IDS {
        let t = format!("..\\packages\\{id}.{v}\\build\\net48\\{id}.targets");
        imports.push_str(&format!("  <Import Project=\"{t}\" Condition=\"Exists('{t}')\" />\n"));
        errors.push_str(&format!("    <Error Condition=\"!Exists('{t}')\" Text=\"$([System.String]::Format('$(ErrorText)', '{t}'))\" />\n"));
    }
    let n = crate::version::numeric4(v);
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="12.0" DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Configuration Condition=" '$(Configuration)' == '' ">Debug</Configuration>
    <Platform Condition=" '$(Platform)' == '' ">AnyCPU</Platform>
    <ProjectGuid>{{5D1A0A52-6F9B-4C8B-9E0E-3A7C1B2D4E6F}}</ProjectGuid>
    <ProjectTypeGuids>{{349c5851-65df-11da-9384-00065b846f21}};{{fae04ec0-301f-11d3-bf4b-00c04f79efbc}}</ProjectTypeGuids>
    <OutputType>Library</OutputType>
    <RootNamespace>Site</RootNamespace>
    <AssemblyName>Site</AssemblyName>
    <TargetFrameworkVersion>v4.8</TargetFrameworkVersion>
    <OutputPath>bin\</OutputPath>
  </PropertyGroup>
  <ItemGroup>
    <Reference Include="System" />
    <Reference Include="System.Web" />
    <Reference Include="XmCdp, Version={n}, Culture=neutral, processorArchitecture=MSIL">
      <HintPath>..\packages\XmCdp.{v}\lib\net48\XmCdp.dll</HintPath>
    </Reference>
    <Reference Include="XmCdp.Sitecore, Version={n}, Culture=neutral, processorArchitecture=MSIL">
      <HintPath>..\packages\XmCdp.Sitecore.{v}\lib\net48\XmCdp.Sitecore.dll</HintPath>
    </Reference>
  </ItemGroup>
  <ItemGroup>
    <Compile Include="Probe.cs" />
    <None Include="packages.config" />
  </ItemGroup>
  <Import Project="$(MSBuildToolsPath)\Microsoft.CSharp.targets" />
{imports}  <Target Name="EnsureNuGetPackageBuildImports" BeforeTargets="PrepareForBuild">
    <PropertyGroup>
      <ErrorText>This project references NuGet package(s) that are missing on this computer. Use NuGet Package Restore to download them.  For more information, see http://go.microsoft.com/fwlink/?LinkID=322105. The missing file is {{0}}.</ErrorText>
    </PropertyGroup>
{errors}  </Target>
</Project>
"#
    )
}
