//! Compiles the generated `bindings/csharp/Interop.cs` the way .NET Framework 4.8 would see it: Mono's
//! `mcs` against the 4.8 reference assemblies, as a library, warnings as errors. interoptopus 0.15+
//! output (`[LibraryImport]`, function pointers, C# 11) fails exactly here.
//!
//! Language version: a net48 project defaults to C# 7.3, but Mono 6.8's `mcs` accepts at most 7.2.
//! 7.2 is a subset of 7.3, so code that compiles here also compiles for net48 (the check is stricter,
//! never looser).

use std::path::Path;
use std::process::Command;

pub fn compile_bindings(repo_root: &Path, out_dir: &Path) -> Result<(), String> {
    let source = repo_root.join(crate::bindings::CSHARP);
    if !source.is_file() {
        return Err(format!("{} does not exist; run `cargo xtask bindings`", source.display()));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out = out_dir.join("XmCdp.Native.Interop.dll");
    let output = Command::new("mcs")
        .args(["-sdk:4.8", "-langversion:7.2", "-target:library", "-unsafe", "-warnaserror+", "-nologo"])
        .arg(format!("-out:{}", out.display()))
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run mcs (install Mono: apt-get install -y mono-complete): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "mcs failed to compile {} for net48 ({}):\n{}{}",
            source.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_csharp_bindings_compile_for_net48() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let out = std::env::temp_dir().join(format!("xmcdp-csharp-check-{}", std::process::id()));
        super::compile_bindings(&root, &out).unwrap();
    }
}
