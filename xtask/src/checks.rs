//! Named checks of a test layer (the Windows DLL under Wine, the NuGet install), printed as they happen and
//! counted into the layer's `N passed, N failed`.

pub struct Checks {
    layer: &'static str,
    pub passed: u64,
    pub failed: u64,
}

impl Checks {
    pub fn new(layer: &'static str) -> Checks {
        Checks { layer, passed: 0, failed: 0 }
    }

    pub fn check(&mut self, name: &str, ok: bool, why: impl std::fmt::Display) {
        if ok {
            self.passed += 1;
            println!("{}: ok   {name}", self.layer);
        } else {
            self.failed += 1;
            println!("{}: FAIL {name}: {why}", self.layer);
        }
    }
}

/// A layer run alone (`cargo xtask windows`, `browser`, `pack --test`): its `N passed, N failed` line, and an
/// error when anything failed.
pub fn run_layer(layer: fn() -> Result<(u64, u64), String>) -> Result<(), String> {
    let (p, f) = layer()?;
    println!("{p} passed, {f} failed");
    if f > 0 {
        Err(format!("{f} failed"))
    } else {
        Ok(())
    }
}
