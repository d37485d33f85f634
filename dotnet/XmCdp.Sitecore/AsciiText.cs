using System;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Allocation-free text checks for the request path. Mono's culture/case-insensitive string searches are slow,
    /// so ASCII text is compared by folding A-Z by hand; any non-ASCII character falls back to the BCL's
    /// <see cref="StringComparison.OrdinalIgnoreCase"/>, so results are exactly those of the BCL calls they replace.
    /// </summary>
    internal static class AsciiText
    {
        internal static bool IsAscii(string s)
        {
            for (int i = 0; i < s.Length; i++)
                if (s[i] >= 128) return false;
            return true;
        }

        /// <summary>
        /// <c>string.Compare(s, offset, pattern, 0, pattern.Length, OrdinalIgnoreCase) == 0</c> with
        /// <paramref name="pattern"/> lower-case ASCII; false when <paramref name="s"/> is too short.
        /// </summary>
        internal static bool RegionEqualsIgnoreCase(string s, int offset, string pattern)
        {
            int n = pattern.Length;
            if (offset < 0 || s.Length - offset < n) return false;
            for (int j = 0; j < n; j++)
            {
                int c = s[offset + j];
                if (c >= 128) return string.Compare(s, offset, pattern, 0, n, StringComparison.OrdinalIgnoreCase) == 0;
                if (c >= 'A' && c <= 'Z') c |= 0x20;
                if (c != pattern[j]) return false;
            }
            return true;
        }

        /// <summary>
        /// The value of the first cookie named <paramref name="name"/> (ordinal, like HttpCookieCollection) in a raw
        /// <c>Cookie</c> header, trimmed; null when absent. Pairs are separated by ';' or ',' as System.Web splits them.
        /// Allocates only the returned value.
        /// </summary>
        internal static string CookieValue(string header, string name)
        {
            if (string.IsNullOrEmpty(header) || string.IsNullOrEmpty(name)) return null;
            int len = header.Length, i = 0;
            while (i < len)
            {
                int end = i;
                while (end < len && header[end] != ';' && header[end] != ',') end++;
                int a = i, b = end;
                while (a < b && char.IsWhiteSpace(header[a])) a++;
                int eq = header.IndexOf('=', a, b - a);
                int nameEnd = eq < 0 ? b : eq;
                while (nameEnd > a && char.IsWhiteSpace(header[nameEnd - 1])) nameEnd--;
                if (eq >= 0 && nameEnd - a == name.Length && string.CompareOrdinal(header, a, name, 0, name.Length) == 0)
                {
                    int va = eq + 1, vb = b;
                    while (va < vb && char.IsWhiteSpace(header[va])) va++;
                    while (vb > va && char.IsWhiteSpace(header[vb - 1])) vb--;
                    return header.Substring(va, vb - va);
                }
                i = end + 1;
            }
            return null;
        }
    }
}
