using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace XmCdp.Native
{
    /// <summary>
    /// The per-version copy of the native library that Windows loads instead of <c>bin\x64\xmcdp.dll</c> (issue 10
    /// item 8): a loaded DLL is locked for the worker process's life, so loading it in place would make every xcopy or
    /// Web Deploy of a new version fail. The copy lives in a folder named by the content hash and keeps the file name,
    /// so <c>[DllImport("xmcdp")]</c> binds to the module already loaded. Platform-neutral so Mono tests run it.
    /// </summary>
    internal static class NativeCopy
    {
        /// <summary>Hex digits of the SHA-256 naming the folder: 64 bits, far beyond the versions a site ever sees.</summary>
        internal const int HashPrefixLength = 16;

        /// <summary>
        /// The path to load: <paramref name="root"/>\xmcdp\{hash}\{file name}, copied there when missing or damaged;
        /// or <paramref name="source"/> itself when no copy can be made, with <paramref name="problem"/> saying why.
        /// </summary>
        internal static string Prepare(string source, string root, out string problem)
        {
            problem = null;
            try
            {
                var bytes = File.ReadAllBytes(source);
                var hash = Hash(bytes);
                var dir = Path.Combine(Path.Combine(root, "xmcdp"), hash.Substring(0, HashPrefixLength));
                var target = Path.Combine(dir, Path.GetFileName(source));
                if (IsComplete(target, hash)) return target;

                Directory.CreateDirectory(dir);
                // Written under a unique name and renamed: a crash mid-copy leaves only a .tmp nobody loads, and of
                // two AppDomains racing, one rename wins and the other finds a complete copy.
                var temp = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
                try
                {
                    using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    {
                        f.Write(bytes, 0, bytes.Length);
                        f.Flush(true);
                    }
                    if (File.Exists(target) && !IsComplete(target, hash)) File.Delete(target); // damaged: not ours to keep
                    try
                    {
                        File.Move(temp, target);
                    }
                    catch (IOException) when (IsComplete(target, hash))
                    {
                        // Another AppDomain renamed its copy first; it has the same bytes.
                    }
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }
                if (IsComplete(target, hash)) return target;
                problem = "the copy at " + target + " does not match the source after writing it";
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException
                || e is System.Security.SecurityException || e is NotSupportedException || e is ArgumentException)
            {
                problem = e.GetType().Name + ": " + e.Message;
            }
            return source;
        }

        /// <summary>The warning for a load in place, or null: one line, naming the paths and the cause.</summary>
        internal static string InPlaceWarning(string source, string root, string problem)
        {
            return problem == null ? null
                : "cannot make a per-version copy of " + source + " under " + root + " (" + problem + "); loaded it in"
                  + " place, so the file stays locked until the app pool stops: stop the pool to deploy a new version.";
        }

        private static bool IsComplete(string path, string hash)
        {
            if (!File.Exists(path)) return false;
            try
            {
                return Hash(File.ReadAllBytes(path)) == hash;
            }
            catch (IOException)
            {
                return false;
            }
        }

        private static string Hash(byte[] bytes)
        {
            using (var sha = SHA256.Create())
            {
                var digest = sha.ComputeHash(bytes);
                var sb = new StringBuilder(digest.Length * 2);
                foreach (var b in digest) sb.Append(b.ToString("x2"));
                return sb.ToString();
            }
        }
    }
}
