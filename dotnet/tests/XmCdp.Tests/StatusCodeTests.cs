using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using NUnit.Framework;
using XmCdp.Native;

namespace XmCdp.Tests
{
    /// <summary>
    /// The status codes are written in four places: the Rust enum (which generates <c>xmcdp_status_t</c> in
    /// bindings/csharp/Interop.cs, kept fresh by `cargo xtask bindings`' check), <c>ALL</c> and <c>name()</c> in
    /// src/ffi/status.rs (reached through the real <c>xmcdp_status_name</c> export), and the hand-written
    /// <see cref="CdpStatus"/>. These tests fail as soon as one of them drifts from the others.
    /// </summary>
    [TestFixture]
    public class StatusCodeTests
    {
        private const string Prefix = "XMCDP_STATUS_";

        [TestFixtureSetUp]
        public void FixtureSetUp()
        {
            NativeLibraryLoader.EnsureLoaded();
        }

        private static IEnumerable<KeyValuePair<string, uint>> Generated()
        {
            foreach (var name in Enum.GetNames(typeof(xmcdp_status_t)))
                yield return new KeyValuePair<string, uint>(name, Convert.ToUInt32(Enum.Parse(typeof(xmcdp_status_t), name)));
        }

        /// <summary>XMCDP_STATUS_BUFFER_TOO_SMALL -> BufferTooSmall.</summary>
        private static string Pascal(string nativeName)
        {
            var sb = new StringBuilder();
            foreach (var part in nativeName.Split('_'))
                sb.Append(part.Substring(0, 1)).Append(part.Substring(1).ToLowerInvariant());
            return sb.ToString();
        }

        [Test]
        public void EveryGeneratedCodeHasTheSameNumberAndNameInCdpStatus()
        {
            var generated = Generated().ToList();
            Assert.That(generated.Count, Is.GreaterThan(30), "the generated enum was read");
            var missing = new List<string>();
            foreach (var g in generated)
            {
                Assert.That(g.Key, Is.StringStarting(Prefix));
                var expected = Pascal(g.Key.Substring(Prefix.Length));
                CdpStatus managed;
                if (!Enum.TryParse(expected, false, out managed) || (uint)(int)managed != g.Value)
                    missing.Add(expected + " = " + g.Value);
            }
            Assert.That(missing, Is.Empty, "CdpStatus.cs lacks or misnumbers these codes of src/ffi/status.rs");
        }

        [Test]
        public void EveryCdpStatusButTheManagedOnlyOneIsANativeCode()
        {
            var numbers = new HashSet<uint>(Generated().Select(g => g.Value));
            var extra = Enum.GetValues(typeof(CdpStatus)).Cast<CdpStatus>()
                .Where(s => s != CdpStatus.LibraryNotLoaded && !numbers.Contains((uint)(int)s))
                .Select(s => s + " = " + (int)s)
                .ToList();
            Assert.That(extra, Is.Empty, "CdpStatus.cs has codes the native enum does not");
            Assert.That((int)CdpStatus.LibraryNotLoaded, Is.LessThan(0), "the managed-only code can never collide with a native one");
        }

        [Test]
        public void TheNativeNameOfEveryCodeMatchesTheEnumSoNoCodeIsMissingFromAll()
        {
            // xmcdp_status_name goes through ALL (from_u32) and name(): a variant left out of either answers
            // "UNKNOWN" or a different name here.
            var wrong = Generated()
                .Select(g => new { g.Key, g.Value, Native = NativeCalls.StatusName(g.Value) })
                .Where(x => x.Native != x.Key.Substring(Prefix.Length))
                .Select(x => x.Key + " (" + x.Value + ") is named " + (x.Native ?? "null"))
                .ToList();
            Assert.That(wrong, Is.Empty);
            Assert.That(NativeCalls.StatusName(1), Is.EqualTo("UNKNOWN"));
        }
    }
}
