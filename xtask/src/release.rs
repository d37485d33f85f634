//! `cargo xtask release --dry-run`: the release checklist as one command. Runs the whole suite (`cargo xtask
//! test`, which includes the Windows layer and the package install test), then packs once more from the same tree
//! and prints each artefact with its SHA-256. Nothing is published: publishing (and signing) stays a manual step
//! after a green dry run, which is why `--dry-run` is required.

use crate::process;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;

pub fn run(args: &[String]) -> Result<(), String> {
    if args != ["--dry-run"] {
        return Err("release: only `cargo xtask release --dry-run` exists (it publishes nothing)".into());
    }
    let root = process::repo_root();
    let v = crate::version::crate_version(&root)?;
    println!("== release {v} (dry run): 1/2 the whole suite (Rust, bindings, .NET, Windows DLL under Wine, packages)");
    crate::test::run(&[])?;
    println!("== release {v} (dry run): 2/2 the artefacts");
    let packed = crate::pack::run(&[])?;
    let dll = packed.dist.join("bin/x64/xmcdp.dll");
    println!();
    println!("artefacts of xmcdp {v} (SHA-256):");
    for p in packed.nupkgs.iter().chain([&dll]) {
        println!("  {}  {}", sha256(p)?, p.display());
    }
    if !fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?.contains("\nrepository") {
        println!("release: NOTE: Cargo.toml has no `repository`: set it before publishing, it becomes the packages' projectUrl");
    }
    println!("release: dry run passed; nothing was published");
    Ok(())
}

pub fn sha256(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_a_known_input() {
        let p = std::env::temp_dir().join(format!("xmcdp-sha-{}", std::process::id()));
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(super::sha256(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn refuses_without_dry_run() {
        assert!(super::run(&[]).unwrap_err().contains("--dry-run"));
    }
}
