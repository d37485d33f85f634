<#
.SYNOPSIS
    Windows build and packaging of XmCdp for a Sitecore XM 10.x site (IIS, .NET Framework 4.8, 64-bit).

.DESCRIPTION
    A thin wrapper: every step below is the Windows twin of a step `cargo xtask` runs and tests on Linux, so
    nothing here is exercised only on Windows except `dotnet build` itself.

    1. Native library (xtask: `cargo build -p xmcdp --lib`, packaged by `cargo xtask dist`):
         cargo build --release -p xmcdp --lib --target x86_64-pc-windows-msvc
       with RUSTFLAGS="-C target-feature=+crt-static", so xmcdp.dll links the C runtime statically and the
       server needs no Visual C++ redistributable. 64-bit only: the app pool must not enable 32-bit applications.
    2. Bindings freshness (xtask test step "bindings are fresh"): regenerates bindings/c/xmcdp.h and
       bindings/csharp/Interop.cs with `cargo xtask bindings` and fails if they differ from the committed files
       (a stale Interop.cs would fail the API-hash check at start-up with VersionMismatch).
    3. C# (xtask: `mcs -sdk:4.8 -langversion:7.2` in xtask/src/dotnet.rs, the same sources): `dotnet build` of
       dotnet/XmCdp/XmCdp.csproj and dotnet/XmCdp.Sitecore/XmCdp.Sitecore.csproj (net48, LangVersion 7.3).
       Sitecore.Kernel comes from Sitecore's public NuGet feed (dotnet/nuget.config) as a build-time reference
       only (runtime assets excluded): the site's own Sitecore.Kernel.dll is used, nothing from NuGet ships.
    4. Package (xtask/src/dist.rs, `cargo xtask dist`): the layout copied onto the site root:
         bin\XmCdp.dll, bin\XmCdp.Sitecore.dll, bin\x64\xmcdp.dll, Transforms\web.config.XmCdp.xdt,
         App_Config\Include\XmCdp\XmCdp.config, sitecore\admin\xmcdp.aspx (the admin page),
         serialization\ (the Sitecore items as a Sitecore Content Serialization module; not copied onto the site),
         INSTALL.md (from xtask/src/dist_install.md)

    Prerequisites: Rust (rustup target add x86_64-pc-windows-msvc), Visual Studio Build Tools (MSVC linker),
    .NET SDK 6+ with the .NET Framework 4.8 targeting pack, git.

.PARAMETER Configuration
    Release (default) or Debug; applies to both the Rust and the C# build.

.PARAMETER SitecoreVersion
    Version of the Sitecore.Kernel NuGet package compiled against; use your site's version (default 10.3.0).

.PARAMETER OutDir
    Where the site layout is written (default .\dist). It must be absent, empty or the output of an earlier run
    (only bin\, App_Config\, Transforms\, sitecore\, serialization\ and INSTALL.md in it): it is emptied first, so any other
    folder is refused.

    Runs under Windows PowerShell 5.1 and PowerShell 7. Native tools (cargo, git, dotnet) are judged by their exit
    code, never by whether they wrote to stderr; RUSTFLAGS is restored even when a step fails.

.EXAMPLE
    .\build.ps1 -SitecoreVersion 10.4.0 -OutDir C:\deploy\xmcdp
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')]
    [string]$Configuration = 'Release',
    [string]$SitecoreVersion = '10.3.0',
    [string]$OutDir = (Join-Path $PSScriptRoot 'dist')
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Step([string]$Name, [scriptblock]$Body) {
    Write-Host "== $Name"
    # Windows PowerShell 5.1 turns every stderr line of a native tool (cargo's "Compiling ...") into an error
    # record once stderr is redirected, which 'Stop' makes fatal: run the tool under 'Continue', print its stderr
    # as text and let the exit code decide.
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $global:LASTEXITCODE = 0
        & $Body 2>&1 | ForEach-Object { Write-Host $_ }
    } finally {
        $ErrorActionPreference = $saved
    }
    if ($LASTEXITCODE -ne 0) { throw "$Name failed (exit code $LASTEXITCODE)" }
}

# A folder this script may empty: an earlier output (only the dist layout's entries, with the native DLL in place).
function Test-PreviousDist([string]$Path) {
    $names = @(Get-ChildItem -Force -LiteralPath $Path | ForEach-Object { $_.Name })
    $foreign = @($names | Where-Object { @('bin', 'App_Config', 'Transforms', 'sitecore', 'serialization', 'INSTALL.md') -notcontains $_ })
    return ($foreign.Count -eq 0) -and (Test-Path -LiteralPath (Join-Path $Path 'bin\x64\xmcdp.dll'))
}

# Absolute, resolved against the script folder (Join-Path would glue an absolute -OutDir onto it).
$OutDir = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, $OutDir))
if ((Test-Path -LiteralPath $OutDir) -and @(Get-ChildItem -Force -LiteralPath $OutDir).Count -gt 0 -and -not (Test-PreviousDist $OutDir)) {
    throw "refusing to empty -OutDir $OutDir`: it is not empty and not an earlier build.ps1 output (bin\, App_Config\, Transforms\, sitecore\, serialization\, INSTALL.md)"
}

$target = 'x86_64-pc-windows-msvc'
$profileDir = if ($Configuration -eq 'Release') { 'release' } else { 'debug' }

# 1. Native library, CRT linked statically.
$savedRustFlags = $env:RUSTFLAGS
try {
    Invoke-Step 'native library (cargo build, +crt-static)' {
        $env:RUSTFLAGS = '-C target-feature=+crt-static'
        $cargoArgs = @('build', '-p', 'xmcdp', '--lib', '--target', $target)
        if ($Configuration -eq 'Release') { $cargoArgs += '--release' }
        cargo @cargoArgs
    }
} finally {
    # The caller's value (or none), also when the build failed: the shell session keeps its environment.
    if ($null -eq $savedRustFlags) { Remove-Item Env:\RUSTFLAGS -ErrorAction SilentlyContinue } else { $env:RUSTFLAGS = $savedRustFlags }
}
$nativeDll = Join-Path $PSScriptRoot "target\$target\$profileDir\xmcdp.dll"
if (-not (Test-Path $nativeDll)) { throw "cargo did not produce $nativeDll" }

# 2. The committed bindings match the library.
Invoke-Step 'bindings are fresh (cargo xtask bindings + git diff)' {
    cargo xtask bindings
    if ($LASTEXITCODE -ne 0) { return }
    git diff --exit-code -- bindings/c/xmcdp.h bindings/csharp/Interop.cs
    if ($LASTEXITCODE -ne 0) { Write-Host 'bindings/ is stale: commit the regenerated files' }
}

# 3. C# assemblies (net48) against the real Sitecore.Kernel package; restore finds the Sitecore feed in
#    dotnet\nuget.config (NuGet walks up from each project folder).
foreach ($project in 'dotnet\XmCdp\XmCdp.csproj', 'dotnet\XmCdp.Sitecore\XmCdp.Sitecore.csproj') {
    Invoke-Step "dotnet build $project" {
        dotnet build $project -c $Configuration "-p:SitecoreVersion=$SitecoreVersion" --nologo
    }
}
$assemblies = Join-Path $PSScriptRoot "dotnet\XmCdp.Sitecore\bin\$Configuration\net48"

# 4. The site layout (same as `cargo xtask dist`).
Write-Host "== packaging into $OutDir"
if (Test-Path -LiteralPath $OutDir) { Remove-Item -Recurse -Force -LiteralPath $OutDir }
$bin = Join-Path $OutDir 'bin'
$x64 = Join-Path $bin 'x64'
$include = Join-Path $OutDir 'App_Config\Include\XmCdp'
New-Item -ItemType Directory -Force -Path $x64, $include | Out-Null
Copy-Item (Join-Path $assemblies 'XmCdp.dll') $bin
Copy-Item (Join-Path $assemblies 'XmCdp.Sitecore.dll') $bin
Copy-Item $nativeDll (Join-Path $x64 'xmcdp.dll')
Copy-Item 'dotnet\XmCdp.Sitecore\App_Config\Include\XmCdp\XmCdp.config' $include
$transforms = New-Item -ItemType Directory -Force -Path (Join-Path $OutDir 'Transforms')
Copy-Item 'dotnet\XmCdp.Sitecore\Transforms\web.config.XmCdp.xdt' $transforms
$admin = New-Item -ItemType Directory -Force -Path (Join-Path $OutDir 'sitecore\admin')
Copy-Item 'dotnet\XmCdp.Sitecore\sitecore\admin\xmcdp.aspx' $admin
# The Sitecore items (rule elements, submit actions): the solution's sitecore.json lists this module.
Copy-Item -Recurse 'dotnet\XmCdp.Sitecore\serialization' (Join-Path $OutDir 'serialization')
Copy-Item 'xtask\src\dist_install.md' (Join-Path $OutDir 'INSTALL.md')
# Sitecore.Kernel must not be copied: the site's own assembly is used (Private=false / runtime assets excluded).
if (Test-Path (Join-Path $bin 'Sitecore.Kernel.dll')) { throw 'Sitecore.Kernel.dll must not ship' }

Get-ChildItem -Recurse -File -LiteralPath $OutDir | ForEach-Object { Write-Host "  $($_.FullName)" }
Write-Host "== $OutDir is ready to copy onto the site root; recycle the app pool after an upgrade (see INSTALL.md)"
