using System;
using System.IO;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using XmCdp.Native;

namespace XmCdp.Tests
{
    /// <summary>
    /// The per-version copy Windows loads instead of bin\x64\xmcdp.dll (issue 10 item 8), on real files: the copy logic
    /// is platform-neutral, only the LoadLibraryEx of its result is Windows-only.
    /// </summary>
    [TestFixture]
    public class NativeCopyTests
    {
        private string _dir;
        private string _source;
        private string _root;

        [SetUp]
        public void SetUp()
        {
            _dir = Path.Combine(Path.GetTempPath(), "xmcdp-copy-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path.Combine(_dir, "bin"));
            _source = Path.Combine(Path.Combine(_dir, "bin"), "xmcdp.dll");
            File.WriteAllBytes(_source, Bytes(1, 300000));
            _root = Path.Combine(_dir, "codegen");
        }

        [TearDown]
        public void TearDown()
        {
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }

        private static byte[] Bytes(int seed, int length)
        {
            var b = new byte[length];
            new Random(seed).NextBytes(b);
            return b;
        }

        private string PrepareOk(string root)
        {
            string problem;
            var path = NativeCopy.Prepare(_source, root, out problem);
            Assert.That(problem, Is.Null);
            return path;
        }

        [Test]
        public void SameBytesReuseTheCopyWithoutCopyingAgain()
        {
            var first = PrepareOk(_root);
            Assert.That(first, Is.Not.EqualTo(_source));
            StringAssert.StartsWith(Path.Combine(_root, "xmcdp") + Path.DirectorySeparatorChar, first);
            Assert.That(Path.GetFileName(first), Is.EqualTo("xmcdp.dll"), "DllImport(\"xmcdp\") binds by module name");
            Assert.That(Path.GetFileName(Path.GetDirectoryName(first)).Length, Is.EqualTo(NativeCopy.HashPrefixLength));
            Assert.That(File.ReadAllBytes(first), Is.EqualTo(File.ReadAllBytes(_source)));

            var stamp = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(first, stamp);
            Assert.That(PrepareOk(_root), Is.EqualTo(first));
            Assert.That(File.GetLastWriteTimeUtc(first), Is.EqualTo(stamp), "not copied again");
            Assert.That(Directory.GetFileSystemEntries(Path.Combine(_root, "xmcdp")).Length, Is.EqualTo(1));
        }

        [Test]
        public void ChangedBytesGetANewFolderAndTheSourceStaysUnlocked()
        {
            var old = PrepareOk(_root);
            // A deployment overwrites bin\x64 while the old copy is in use.
            File.WriteAllBytes(_source, Bytes(2, 300000));
            var fresh = PrepareOk(_root);
            Assert.That(Path.GetDirectoryName(fresh), Is.Not.EqualTo(Path.GetDirectoryName(old)));
            Assert.That(File.ReadAllBytes(fresh), Is.EqualTo(Bytes(2, 300000)));
            Assert.That(File.ReadAllBytes(old), Is.EqualTo(Bytes(1, 300000)), "the loaded old copy is left alone");
        }

        [Test]
        public void APartiallyWrittenCopyIsNeverUsed()
        {
            // Learn the folder for these bytes, then stage what a crash mid-copy leaves in a fresh root.
            var probe = PrepareOk(Path.Combine(_dir, "probe"));
            var relative = probe.Substring(Path.Combine(_dir, "probe").Length + 1);
            var target = Path.Combine(_root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target));
            var full = File.ReadAllBytes(_source);
            File.WriteAllBytes(target, full.Take(1000).ToArray());           // truncated under the final name
            File.WriteAllBytes(target + ".dead.tmp", full.Take(5000).ToArray()); // an interrupted temp file

            var path = PrepareOk(_root);
            Assert.That(path, Is.EqualTo(target));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(full), "the truncated file was replaced by a complete copy");
        }

        [Test]
        public void RacingAppDomainsEndWithOneCompleteCopy()
        {
            const int racers = 6;
            var results = new string[racers];
            var problems = new string[racers];
            var failures = new Exception[racers];
            var start = new ManualResetEvent(false);
            var threads = Enumerable.Range(0, racers).Select(i => new Thread(() =>
            {
                try
                {
                    start.WaitOne();
                    results[i] = NativeCopy.Prepare(_source, _root, out problems[i]);
                }
                catch (Exception e) { failures[i] = e; }
            })).ToArray();
            foreach (var t in threads) t.Start();
            start.Set();
            foreach (var t in threads) Assert.That(t.Join(TimeSpan.FromSeconds(60)), Is.True);

            Assert.That(failures, Is.All.Null);
            Assert.That(problems, Is.All.Null);
            Assert.That(results.Distinct().Count(), Is.EqualTo(1), string.Join(", ", results));
            Assert.That(File.ReadAllBytes(results[0]), Is.EqualTo(File.ReadAllBytes(_source)));
            Assert.That(Directory.GetFiles(Path.GetDirectoryName(results[0])), Is.EqualTo(new[] { results[0] }),
                "no temp file left behind");
        }

        [Test]
        public void AnUnwritableLocationFallsBackToLoadingInPlaceWithOneClearLine()
        {
            // A root below a file cannot be created, whoever runs the test (root included).
            var blocker = Path.Combine(_dir, "not-a-folder");
            File.WriteAllText(blocker, "x");
            var root = Path.Combine(blocker, "codegen");
            string problem;
            Assert.That(NativeCopy.Prepare(_source, root, out problem), Is.EqualTo(_source));
            Assert.That(problem, Is.Not.Null);
            var warning = NativeCopy.InPlaceWarning(_source, root, problem);
            foreach (var needle in new[] { _source, root, "in place", "stop the pool" }) StringAssert.Contains(needle, warning);
            Assert.That(warning.Contains("\n"), Is.False, "one line");
            Assert.That(NativeCopy.InPlaceWarning(_source, root, null), Is.Null);
        }
    }
}
