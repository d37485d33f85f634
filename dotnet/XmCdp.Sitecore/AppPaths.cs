using System;
using System.IO;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Paths from config resolved the way Sitecore's MapPath treats them: a full path (drive letter or UNC) stays,
    /// anything else (<c>/App_Data/x</c>, <c>~/x</c>, <c>bin/x64</c>, forward slashes) is relative to the application
    /// root. Never the process's working directory: w3wp's is <c>%windir%\system32\inetsrv</c>.
    /// </summary>
    internal static class AppPaths
    {
        /// <summary>The application root without touching System.Web (see AspNetHost); the base directory outside ASP.NET.</summary>
        public static string Root => AppDomain.CurrentDomain.GetData(".appPath") as string ?? AppDomain.CurrentDomain.BaseDirectory;

        public static string Resolve(string path) => Resolve(path, Root);

        internal static string Resolve(string path, string root)
        {
            if (string.IsNullOrWhiteSpace(path)) return path;
            var p = path.Trim();
            bool drive = p.Length >= 3 && char.IsLetter(p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/');
            bool unc = p.StartsWith(@"\\", StringComparison.Ordinal) || p.StartsWith("//", StringComparison.Ordinal);
            if (drive || unc) return Path.GetFullPath(p);
            if (p.StartsWith("~", StringComparison.Ordinal)) p = p.Substring(1);
            p = p.TrimStart('/', '\\').Replace('/', Path.DirectorySeparatorChar).Replace('\\', Path.DirectorySeparatorChar);
            return Path.GetFullPath(Path.Combine(root, p));
        }
    }
}
