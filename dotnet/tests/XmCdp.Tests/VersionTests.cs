using System;
using System.Reflection;
using NUnit.Framework;
using XmCdp.Native;

namespace XmCdp.Tests
{
    /// <summary>One version everywhere (issue 16): the assembly attributes written from Cargo.toml by
    /// `cargo xtask bindings` agree with the real native library, and a mismatch names both versions.</summary>
    [TestFixture]
    public class VersionTests
    {
        private static string Informational =>
            typeof(NativeLibraryLoader).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>().InformationalVersion;

        [Test]
        public void AssemblyVersion_IsTheNativeLibrarysVersion()
        {
            NativeLibraryLoader.EnsureLoaded();
            var v = typeof(NativeLibraryLoader).Assembly.GetName().Version;
            Assert.That(NativeCalls.Version(), Is.EqualTo((uint)(v.Major * 1000000 + v.Minor * 1000 + v.Build)));
            StringAssert.StartsWith(v.Major + "." + v.Minor + "." + v.Build, Informational);
            StringAssert.Contains("+api.", Informational);
        }

        [Test]
        public void MismatchMessage_NamesBothVersions()
        {
            var message = NativeLibraryLoader.MismatchMessage(@"C:\site\bin\x64\xmcdp.dll", 2003004,
                "API reports hash 1 which differs from hash in bindings (2).");
            StringAssert.Contains("native library 2.3.4", message);
            StringAssert.Contains("XmCdp.dll " + Informational, message);
            StringAssert.Contains(@"C:\site\bin\x64\xmcdp.dll", message);
            StringAssert.Contains("API reports hash 1", message);
            StringAssert.Contains("app-pool recycle", message);
        }

        [Test]
        public void MismatchMessage_WhenTheNativeVersionCannotBeRead()
        {
            StringAssert.Contains("native library of unknown version", NativeLibraryLoader.MismatchMessage("x", null, "c"));
        }
    }
}
