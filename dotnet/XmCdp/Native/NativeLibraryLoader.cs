using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace XmCdp.Native
{
    /// <summary>
    /// Makes sure the native library is loaded before the first P/Invoke.
    /// <para>Windows/IIS: the DLL found at <c>bin\x64\xmcdp.dll</c> is copied to a folder named by its content hash
    /// (<see cref="NativeCopy"/>, under <c>HttpRuntime.CodegenDir</c> or temp) and that copy is loaded by full path with
    /// <c>LOAD_WITH_ALTERED_SEARCH_PATH</c>, so <c>bin\x64</c> stays unlocked; later <c>[DllImport("xmcdp")]</c> binds to
    /// the module already in the process (same file name). <c>bin</c> is found through <c>HttpRuntime.BinDirectory</c>, <c>AppDomain.RelativeSearchPath</c> and
    /// <c>Assembly.CodeBase</c>, never <c>Assembly.Location</c> (ASP.NET shadow-copies managed DLLs, not native ones).
    /// The module stays loaded for the life of <c>w3wp.exe</c>: a new version takes effect after an app-pool recycle.</para>
    /// <para>Mono/Linux: resolution is Mono's (<c>&lt;dllmap&gt;</c> in <c>XmCdp.dll.config</c>, or <c>libxmcdp.so</c>
    /// on <c>LD_LIBRARY_PATH</c>); this class only probes so that a missing library fails with a clear message.</para>
    /// </summary>
    public static class NativeLibraryLoader
    {
        public const string LibraryName = "xmcdp";
        private const uint LOAD_WITH_ALTERED_SEARCH_PATH = 0x00000008;

        private static readonly object Gate = new object();
        private static volatile string s_loadedFrom;

        /// <summary>Where the library was loaded from, or null before a successful <see cref="EnsureLoaded(string)"/>.</summary>
        public static string LoadedFrom => s_loadedFrom;

        public static bool IsWindows => Environment.OSVersion.Platform == PlatformID.Win32NT;

        /// <summary>Loads the native library once per AppDomain; cheap after the first success.</summary>
        /// <param name="explicitPath">Optional full path of the native file, or of the folder holding it
        /// (e.g. from a <c>XmCdp.NativePath</c> setting); tried before the automatic locations.</param>
        /// <exception cref="XmCdpException">Status <see cref="CdpStatus.LibraryNotLoaded"/> with every path tried.</exception>
        public static void EnsureLoaded(string explicitPath = null)
        {
            if (s_loadedFrom != null) return;
            lock (Gate)
            {
                if (s_loadedFrom != null) return;
                var from = IsWindows ? LoadWindows(explicitPath) : MonoDescription;
                VerifyBindings(from);
                s_loadedFrom = from;
            }
        }

        private static string LoadWindows(string explicitPath)
        {
            var bitness = BitnessProblem(IntPtr.Size == 8);
            if (bitness != null) throw new XmCdpException(CdpStatus.LibraryNotLoaded, bitness);
            if (!string.IsNullOrEmpty(explicitPath)) explicitPath = ResolveExplicit(explicitPath, AppRoot, windows: true);
            var tried = new StringBuilder();
            foreach (var path in CandidatePaths(explicitPath, LibraryName + ".dll", IntPtr.Size == 8))
            {
                if (!File.Exists(path))
                {
                    tried.Append("\n  ").Append(path).Append(" (not found)");
                    continue;
                }
                // A per-version copy, so bin\x64 is never locked and a deployment can overwrite it.
                var root = CopyRoot();
                string problem;
                var load = NativeCopy.Prepare(path, root, out problem);
                var module = LoadLibraryEx(load, IntPtr.Zero, LOAD_WITH_ALTERED_SEARCH_PATH);
                if (module != IntPtr.Zero)
                {
                    s_loadWarning = NativeCopy.InPlaceWarning(path, root, problem);
                    return load == path ? path : load + " (a copy of " + path + ")";
                }
                int err = Marshal.GetLastWin32Error();
                tried.Append("\n  ").Append(path).Append(" (Win32 error ").Append(err).Append(": ")
                    .Append(Describe(err)).Append(')');
            }
            throw new XmCdpException(CdpStatus.LibraryNotLoaded,
                "XmCdp: could not load the native library " + LibraryName + ".dll into a "
                + "64-bit process. Deploy it to bin\\x64\\ or set NativePath (a full path, or relative to the site root). Paths tried:" + tried);
        }

        /// <summary>There is no x86 build: a 32-bit worker process gets a message that says so, or null when 64-bit.</summary>
        internal static string BitnessProblem(bool is64BitProcess)
        {
            return is64BitProcess ? null
                : "XmCdp: 32-bit worker processes are not supported (there is no x86 build of " + LibraryName
                  + ".dll). Set the app pool's 'Enable 32-Bit Applications' to False.";
        }

        /// <summary>Set when the library had to be loaded in place (no per-version copy): one line for the log.</summary>
        public static string LoadWarning => s_loadWarning;

        /// <summary>The loaded native library's version (<c>major.minor.patch</c>), or null before it is loaded.</summary>
        public static string NativeVersion
        {
            get
            {
                if (s_loadedFrom == null) return null;
                var n = NativeVersionNumber();
                return n.HasValue ? (n.Value / 1000000) + "." + (n.Value / 1000 % 1000) + "." + (n.Value % 1000) : null;
            }
        }

        /// <summary>This XmCdp.dll's version with the API hash of its generated bindings (<c>0.1.0+api.…</c>).</summary>
        public static string ManagedVersion => typeof(NativeLibraryLoader).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            is System.Reflection.AssemblyInformationalVersionAttribute[] a && a.Length > 0 ? a[0].InformationalVersion : null;
        private static volatile string s_loadWarning;

        /// <summary>ASP.NET's per-application codegen folder when hosted (cleaned with the site's temp files), else temp.</summary>
        private static string CopyRoot()
        {
            if (AspNetHost.IsHosted)
            {
                try
                {
                    var codegen = System.Web.HttpRuntime.CodegenDir;
                    if (!string.IsNullOrEmpty(codegen)) return codegen;
                }
                catch (Exception)
                {
                }
            }
            return Path.GetTempPath();
        }

        private static string AppRoot => AppDomain.CurrentDomain.GetData(".appPath") as string ?? AppDomain.CurrentDomain.BaseDirectory;

        /// <summary>
        /// A configured path as LoadLibraryEx needs it: full paths (a drive or UNC on Windows, '/' elsewhere) stay;
        /// a relative, '~/' or (on Windows) '/'-rooted path is relative to the application root, never to the working
        /// directory (w3wp's is inetsrv); slashes are made the platform's.
        /// </summary>
        internal static string ResolveExplicit(string path, string appRoot, bool windows)
        {
            var sep = windows ? '\\' : '/';
            var p = path.Trim().Replace(windows ? '/' : '\\', sep);
            bool full = windows
                ? (p.Length >= 3 && char.IsLetter(p[0]) && p[1] == ':' && p[2] == sep) || p.StartsWith(@"\\", StringComparison.Ordinal)
                : p.StartsWith("/", StringComparison.Ordinal);
            if (full) return p;
            if (p.StartsWith("~", StringComparison.Ordinal)) p = p.Substring(1);
            p = p.TrimStart(sep);
            var root = appRoot.Replace(windows ? '/' : '\\', sep);
            return root.TrimEnd(sep) + sep + p;
        }

        private static string Describe(int win32Error)
        {
            switch (win32Error)
            {
                case 126: return "module or one of its dependencies not found";
                case 193: return "not a valid image for this process; wrong bitness (x86/x64) or corrupt file";
                default: return new Win32Exception(win32Error).Message;
            }
        }

        /// <summary>
        /// Candidate full paths in probing order: the explicit path, then for every base folder the
        /// architecture subfolder and the folder itself. Exposed to tests; it touches no file system.
        /// </summary>
        internal static IList<string> CandidatePaths(string explicitPath, string fileName, bool is64Bit)
        {
            var result = new List<string>();
            if (!string.IsNullOrEmpty(explicitPath))
            {
                bool isFile = explicitPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
                    || explicitPath.EndsWith(".so", StringComparison.OrdinalIgnoreCase)
                    || explicitPath.EndsWith(".dylib", StringComparison.OrdinalIgnoreCase);
                if (isFile) result.Add(explicitPath);
                else AddFolder(result, explicitPath, fileName, is64Bit);
            }
            foreach (var folder in BaseFolders()) AddFolder(result, folder, fileName, is64Bit);
            return result;
        }

        private static void AddFolder(List<string> result, string folder, string fileName, bool is64Bit)
        {
            var arch = Path.Combine(Path.Combine(folder, is64Bit ? "x64" : "x86"), fileName);
            var flat = Path.Combine(folder, fileName);
            if (!result.Contains(arch)) result.Add(arch);
            if (!result.Contains(flat)) result.Add(flat);
        }

        internal static IEnumerable<string> BaseFolders()
        {
            string bin = null;
            if (AspNetHost.IsHosted)
            {
                try
                {
                    // May throw in partial-trust or half-initialised hosts.
                    bin = System.Web.HttpRuntime.BinDirectory;
                }
                catch (Exception)
                {
                }
            }
            if (!string.IsNullOrEmpty(bin)) yield return bin;

            var relative = AppDomain.CurrentDomain.RelativeSearchPath;
            if (!string.IsNullOrEmpty(relative))
            {
                foreach (var part in relative.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    yield return Path.IsPathRooted(part)
                        ? part
                        : Path.Combine(AppDomain.CurrentDomain.BaseDirectory, part);
                }
            }

            string codeBaseDir = null;
            try
            {
                var codeBase = typeof(NativeLibraryLoader).Assembly.EscapedCodeBase;
                codeBaseDir = Path.GetDirectoryName(new Uri(codeBase).LocalPath);
            }
            catch (Exception)
            {
            }
            if (!string.IsNullOrEmpty(codeBaseDir)) yield return codeBaseDir;

            yield return AppDomain.CurrentDomain.BaseDirectory;
        }

        private const string MonoDescription = "lib" + LibraryName + ".so (resolved by Mono: dllmap or LD_LIBRARY_PATH)";

        /// <summary>
        /// Runs the generated bindings' static constructor, which binds the library and compares its API hash with
        /// the hash the bindings were generated from. Both failures surface here, once, as an XmCdpException, instead
        /// of as a TypeInitializationException on the first page view.
        /// </summary>
        private static void VerifyBindings(string from)
        {
            try
            {
                NativeCalls.Version();
            }
            catch (Exception e) when (e is TypeInitializationException || e is DllNotFoundException
                || e is EntryPointNotFoundException || e is BadImageFormatException)
            {
                var cause = e is TypeInitializationException && e.InnerException != null ? e.InnerException : e;
                if (cause is TypeLoadException && !(cause is EntryPointNotFoundException) && !(cause is DllNotFoundException))
                {
                    throw new XmCdpException(CdpStatus.VersionMismatch, MismatchMessage(from, NativeVersionNumber(), cause.Message), cause);
                }
                throw new XmCdpException(CdpStatus.LibraryNotLoaded, IsWindows
                    ? "XmCdp: " + from + " was loaded but could not be bound (" + cause.GetType().Name + ": " + cause.Message + ")."
                    : "XmCdp: could not load the native library lib" + LibraryName + ".so into a " + (IntPtr.Size * 8)
                    + "-bit Mono process (" + cause.GetType().Name + "). Map it with a <dllmap dll=\"" + LibraryName
                    + "\" target=\"/full/path/lib" + LibraryName + ".so\"/> in XmCdp.dll.config next to XmCdp.dll, or put"
                    + " its folder on LD_LIBRARY_PATH.", cause);
            }
        }

        /// <summary>Names both versions, so a half-done upgrade (new XmCdp.dll, old DLL still loaded) is obvious.</summary>
        internal static string MismatchMessage(string from, uint? nativeVersion, string cause)
        {
            var native = nativeVersion is uint n
                ? "native library " + n / 1000000 + "." + n / 1000 % 1000 + "." + n % 1000
                : "native library of unknown version";
            var managed = typeof(NativeLibraryLoader).Assembly
                .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                is System.Reflection.AssemblyInformationalVersionAttribute[] a && a.Length > 0 ? a[0].InformationalVersion : "(no version)";
            return "XmCdp: the " + native + " at " + from + " does not match XmCdp.dll " + managed + " (" + cause
                + "). Deploy both from the same package version; an app-pool recycle is needed to replace a loaded DLL.";
        }

        // Bound separately from the generated bindings, whose static constructor has just failed.
        [DllImport(LibraryName, EntryPoint = "xmcdp_version", CallingConvention = CallingConvention.Cdecl)]
        private static extern uint xmcdp_version_unchecked();

        private static uint? NativeVersionNumber()
        {
            try
            {
                return xmcdp_version_unchecked();
            }
            catch (Exception)
            {
                return null;
            }
        }

        [DllImport("kernel32", EntryPoint = "LoadLibraryExW", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryEx(string lpFileName, IntPtr hFile, uint dwFlags);
    }
}
