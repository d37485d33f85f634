using System;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;
using XmCdp.Native;

namespace XmCdp.Tests
{
    [TestFixture]
    public unsafe class MarshallingTests
    {
        [Test]
        public void Packer_NullIsAbsentEmptyIsZeroLengthNonNull()
        {
            var buf = new byte[64];
            fixed (byte* b = buf)
            {
                var p = new NativeCalls.Utf8Packer(b, buf.Length);
                var absent = p.Add(null);
                var empty = p.Add("");
                Assert.That(absent.ptr, Is.EqualTo(IntPtr.Zero));
                Assert.That(absent.len, Is.EqualTo(0UL));
                Assert.That(empty.ptr, Is.Not.EqualTo(IntPtr.Zero));
                Assert.That(empty.len, Is.EqualTo(0UL));
            }
        }

        [Test]
        public void PackerPut_WritesTheFieldInPlace_NullClearsIt_EmptyIsZeroLengthNonNull()
        {
            var buf = new byte[64];
            fixed (byte* b = buf)
            {
                var p = new NativeCalls.Utf8Packer(b, buf.Length);
                var v = default(xmcdp_page_view_t);
                p.Put(ref v.common.page, "Zoë");
                p.Put(ref v.url, "");
                v.referrer = new xmcdp_str_t { ptr = (IntPtr)b, len = 3 };
                p.Put(ref v.referrer, null);
                Assert.That(v.common.page.ptr, Is.EqualTo((IntPtr)b));
                Assert.That(v.common.page.len, Is.EqualTo(4UL));
                Assert.That(Encoding.UTF8.GetString(buf, 0, 4), Is.EqualTo("Zoë"));
                Assert.That(v.url.ptr, Is.EqualTo((IntPtr)(b + 4)), "empty: a non-NULL pointer after the previous field");
                Assert.That(v.url.len, Is.EqualTo(0UL));
                Assert.That(v.referrer.ptr, Is.EqualTo(IntPtr.Zero), "null: absent");
                Assert.That(v.referrer.len, Is.EqualTo(0UL));
                Assert.That(p.Position, Is.EqualTo(4));
            }
        }

        [Test]
        public void Packer_EncodesUtf8BackToBack()
        {
            var s1 = "Zoë";
            var s2 = "😀x";
            var buf = NativeCalls.RentBuffer(NativeCalls.MaxBytes(s1) + NativeCalls.MaxBytes(s2));
            fixed (byte* b = buf)
            {
                var p = new NativeCalls.Utf8Packer(b, buf.Length);
                var a = p.Add(s1);
                var c = p.Add(s2);
                Assert.That(a.len, Is.EqualTo(4UL));
                Assert.That(c.len, Is.EqualTo(5UL));
                Assert.That((long)c.ptr - (long)a.ptr, Is.EqualTo(4));
                var bytes = new byte[9];
                Marshal.Copy(a.ptr, bytes, 0, 9);
                Assert.That(Encoding.UTF8.GetString(bytes), Is.EqualTo(s1 + s2));
            }
        }

        [Test]
        public void Encode_WritesExactlyWhatEncodingUtf8Writes_AroundTheAsciiFastPath()
        {
            // The ASCII run is copied eight units at a time; whatever follows the first non-ASCII unit is Encoding.UTF8's.
            // Every length across two 8-unit steps, each odd unit at every position: the step boundaries, 0x7F/0x80,
            // 2- and 3-byte forms, a pair, and lone surrogates (Encoding.UTF8 writes U+FFFD for them, as before).
            var odd = new[] { "\u007F", "\u0080", "\u00FF", "\u0100", "\u07FF", "\u0800", "\uFFFF", "\uD83D\uDE00", "\uD800", "\uDC00", "\uDBFF" };
            var buf = new byte[256];
            int checkedStrings = 0;
            fixed (byte* b = buf)
            {
                for (int len = 0; len <= 20; len++)
                {
                    var ascii = new string('a', len).ToCharArray();
                    for (int i = 0; i < len; i++) ascii[i] = (char)('!' + (i * 7) % 94);
                    var plain = new string(ascii);
                    Expect(plain, b, buf.Length);
                    checkedStrings++;
                    for (int at = 0; at <= len; at++)
                    {
                        foreach (var o in odd)
                        {
                            Expect(plain.Substring(0, at) + o + plain.Substring(at), b, buf.Length);
                            checkedStrings++;
                        }
                    }
                }
            }
            Assert.That(checkedStrings, Is.GreaterThan(2000));
        }

        private static void Expect(string s, byte* b, int cap)
        {
            for (int k = 0; k < cap; k++) b[k] = 0xAA;
            int n = NativeCalls.Encode(s, b, cap);
            var expected = Encoding.UTF8.GetBytes(s);
            var got = new byte[n];
            Marshal.Copy((IntPtr)b, got, 0, n);
            Assert.That(got, Is.EqualTo(expected), "UTF-8 of " + Escape(s));
            Assert.That(n, Is.LessThanOrEqualTo(NativeCalls.MaxBytes(s)), "within MaxBytes for " + Escape(s));
            Assert.That(b[n], Is.EqualTo((byte)0xAA), "nothing written past the encoded bytes for " + Escape(s));
        }

        private static string Escape(string s)
        {
            var sb = new StringBuilder();
            foreach (var c in s) sb.Append(c < 0x80 ? c.ToString() : "\\u" + ((int)c).ToString("X4"));
            return sb.ToString();
        }

        [Test]
        public void RentBuffer_ReusesThePerThreadBuffer()
        {
            var a = NativeCalls.RentBuffer(100);
            var b = NativeCalls.RentBuffer(200);
            Assert.That(ReferenceEquals(a, b), Is.True);
            var huge = NativeCalls.RentBuffer(1 << 20);
            Assert.That(ReferenceEquals(NativeCalls.RentBuffer(100), huge), Is.False, "huge buffers are not retained");
        }
    }

    [TestFixture]
    public class LoaderTests
    {
        [Test]
        public void CandidatePaths_ExplicitFolderFirstArchSubfolderBeforeFlat()
        {
            var paths = NativeLibraryLoader.CandidatePaths("/opt/site/bin", "xmcdp.dll", is64Bit: true);
            Assert.That(paths[0], Is.EqualTo(System.IO.Path.Combine("/opt/site/bin", "x64", "xmcdp.dll")));
            Assert.That(paths[1], Is.EqualTo(System.IO.Path.Combine("/opt/site/bin", "xmcdp.dll")));
        }

        [Test]
        public void CandidatePaths_ExplicitFileIsTriedAsIs()
        {
            var paths = NativeLibraryLoader.CandidatePaths("/opt/native/xmcdp_0_1_0.dll", "xmcdp.dll", is64Bit: false);
            Assert.That(paths[0], Is.EqualTo("/opt/native/xmcdp_0_1_0.dll"));
            Assert.That(paths[1], Is.StringEnding(System.IO.Path.Combine("x86", "xmcdp.dll")));
        }

        [TestCase("bin/x64/xmcdp.dll", false, "/srv/site", "/srv/site/bin/x64/xmcdp.dll")]
        [TestCase("~/native", false, "/srv/site", "/srv/site/native")]
        [TestCase("/opt/native", false, "/srv/site", "/opt/native")]
        [TestCase("bin/x64/xmcdp.dll", true, @"C:\inetpub\site\", @"C:\inetpub\site\bin\x64\xmcdp.dll")]
        [TestCase("/bin/x64", true, @"C:\inetpub\site\", @"C:\inetpub\site\bin\x64")]
        [TestCase("D:/native/xmcdp.dll", true, @"C:\inetpub\site\", @"D:\native\xmcdp.dll")]
        [TestCase(@"\\share\native", true, @"C:\inetpub\site\", @"\\share\native")]
        public void ExplicitPath_RelativeOrForwardSlash_IsResolvedAgainstTheApplicationRoot(string path, bool windows, string root, string expected)
        {
            // w3wp's working directory is inetsrv, and LoadLibraryEx with LOAD_WITH_ALTERED_SEARCH_PATH needs a full path.
            Assert.That(NativeLibraryLoader.ResolveExplicit(path, root, windows), Is.EqualTo(expected));
        }

        [Test]
        public void ThirtyTwoBitProcess_GetsAMessageSayingItIsNotSupported()
        {
            var message = NativeLibraryLoader.BitnessProblem(is64BitProcess: false);
            Assert.That(message, Is.StringContaining("32-bit").And.StringContaining("not supported").And.StringContaining("Enable 32-Bit Applications"));
            Assert.That(NativeLibraryLoader.BitnessProblem(is64BitProcess: true), Is.Null);
        }

        [Test]
        public void CandidatePaths_IncludeTheCodeBaseFolderAndNoDuplicates()
        {
            var codeBaseDir = System.IO.Path.GetDirectoryName(new Uri(typeof(NativeLibraryLoader).Assembly.EscapedCodeBase).LocalPath);
            var paths = NativeLibraryLoader.CandidatePaths(null, "xmcdp.dll", is64Bit: true);
            Assert.That(paths, Has.Member(System.IO.Path.Combine(codeBaseDir, "x64", "xmcdp.dll")));
            Assert.That(paths, Is.Unique);
        }
    }
}
