using System;
using System.Collections.Generic;
using System.Web;

namespace XmCdp.Sitecore.Pipelines.HttpRequestBegin
{
    /// <summary>
    /// Which requests <see cref="TrackVisitor"/> tracks at all: not a system site, normal page mode, not a static or
    /// system path, not a bot, no <c>DNT: 1</c> when that is honoured, consent when a consent cookie is configured.
    /// Configured once by the config factory (through <see cref="TrackVisitor"/>'s properties), then read by every
    /// request: the checks compare in place and allocate nothing.
    /// </summary>
    internal sealed class VisitorFilter
    {
        private HashSet<string> _ignoredSites = Csv("shell,login,admin,service,modules_shell,modules_website,scheduler,system,publisher");
        private string[] _ignoredPrefixes = CsvArray("/sitecore/,/-/,/~/,/api/,/layouts/,/_dev/");
        private HashSet<string> _consentValues = Csv("1,true,yes,granted,all");
        // Bot patterns, lower-cased once: ASCII ones are found by one pass over the User-Agent (first-character
        // bitmask, then an in-place compare); any other pattern is searched with OrdinalIgnoreCase.
        private string[] _asciiBots = new string[0];
        private string[] _otherBots = new string[0];
        private ulong _botFirstLo, _botFirstHi;
        private string[] _lowerPrefixes = LowerPrefixes(CsvArray("/sitecore/,/-/,/~/,/api/,/layouts/,/_dev/"));

        public string IgnoredSites
        {
            get { return string.Join(",", _ignoredSites); }
            set { _ignoredSites = Csv(value); }
        }

        public string IgnoredPathPrefixes
        {
            get { return string.Join(",", _ignoredPrefixes); }
            set
            {
                var prefixes = CsvArray(value);
                _lowerPrefixes = LowerPrefixes(prefixes);
                _ignoredPrefixes = prefixes;
            }
        }

        public string ConsentCookieName { get; set; }

        public string ConsentValues
        {
            get { return string.Join(",", _consentValues); }
            set { _consentValues = Csv(value); }
        }

        public bool HonorDoNotTrack { get; set; }

        public void AddBotUserAgent(string pattern)
        {
            if (string.IsNullOrWhiteSpace(pattern)) return;
            var p = pattern.Trim().ToLowerInvariant();
            if (AsciiText.IsAscii(p))
            {
                _asciiBots = Append(_asciiBots, p);
                int c = p[0];
                if (c < 64) _botFirstLo |= 1UL << c;
                else _botFirstHi |= 1UL << (c - 64);
            }
            else
            {
                _otherBots = Append(_otherBots, p);
            }
        }

        internal bool IgnoresSite(string siteName) => _ignoredSites.Contains(siteName);

        /// <summary>Only what visitors see: not the Experience Editor, preview or debug mode.</summary>
        internal static bool IsNormalPageMode() => global::Sitecore.Context.PageMode.IsNormal;

        /// <summary>The request's own checks, cheapest first: path, User-Agent, DNT, consent cookie.</summary>
        internal bool Admits(HttpRequestBase request, string userAgent)
        {
            if (IsIgnoredPath(request.Path)) return false;
            if (IsBot(userAgent)) return false;
            if (HonorDoNotTrack && request.Headers["DNT"] == "1") return false;
            return HasConsent(request);
        }

        internal bool IsIgnoredPath(string path)
        {
            if (string.IsNullOrEmpty(path)) return false;
            var prefixes = _lowerPrefixes;
            for (int i = 0; i < prefixes.Length; i++)
            {
                var prefix = prefixes[i];
                if (prefix != null)
                {
                    if (AsciiText.RegionEqualsIgnoreCase(path, 0, prefix)) return true;
                }
                else if (path.StartsWith(_ignoredPrefixes[i], StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
            // Static files ("/styles/site.css", "/robots.txt"): any extension except page handlers.
            int slash = path.LastIndexOf('/');
            int dot = path.LastIndexOf('.');
            if (dot > slash)
            {
                int extLength = path.Length - dot;
                return !(extLength == 5 && (AsciiText.RegionEqualsIgnoreCase(path, dot, ".aspx") || AsciiText.RegionEqualsIgnoreCase(path, dot, ".html")));
            }
            return false;
        }

        internal bool IsBot(string userAgent)
        {
            if (string.IsNullOrWhiteSpace(userAgent)) return true;
            var ascii = _asciiBots;
            bool nonAscii = false;
            if (ascii.Length > 0)
            {
                ulong lo = _botFirstLo, hi = _botFirstHi;
                for (int i = 0; i < userAgent.Length; i++)
                {
                    int c = userAgent[i];
                    if (c >= 128)
                    {
                        nonAscii = true;
                        continue;
                    }
                    if (c >= 'A' && c <= 'Z') c |= 0x20;
                    if (c < 64 ? ((lo >> c) & 1) == 0 : ((hi >> (c - 64)) & 1) == 0) continue;
                    for (int k = 0; k < ascii.Length; k++)
                    {
                        var p = ascii[k];
                        if (p[0] == c && AsciiText.RegionEqualsIgnoreCase(userAgent, i, p)) return true;
                    }
                }
                // A non-ASCII character may equal an ASCII one under OrdinalIgnoreCase (e.g. U+0131 and 'I'): ask the BCL.
                if (nonAscii)
                {
                    foreach (var p in ascii)
                        if (userAgent.IndexOf(p, StringComparison.OrdinalIgnoreCase) >= 0) return true;
                }
            }
            foreach (var p in _otherBots)
            {
                if (userAgent.IndexOf(p, StringComparison.OrdinalIgnoreCase) >= 0) return true;
            }
            return false;
        }

        internal bool HasConsent(HttpRequestBase request)
        {
            if (string.IsNullOrEmpty(ConsentCookieName)) return true;
            // The raw header, not Request.Cookies (which parses every cookie into HttpCookie objects).
            var value = AsciiText.CookieValue(request.Headers["Cookie"], ConsentCookieName);
            return value != null && _consentValues.Contains(value);
        }

        private static string[] Append(string[] array, string value)
        {
            var copy = new string[array.Length + 1];
            Array.Copy(array, copy, array.Length);
            copy[array.Length] = value;
            return copy;
        }

        /// <summary>Lower-case copies of ASCII prefixes (compared in place); null marks a non-ASCII prefix (BCL compare).</summary>
        private static string[] LowerPrefixes(string[] prefixes)
        {
            var lower = new string[prefixes.Length];
            for (int i = 0; i < prefixes.Length; i++)
                lower[i] = AsciiText.IsAscii(prefixes[i]) ? prefixes[i].ToLowerInvariant() : null;
            return lower;
        }

        private static HashSet<string> Csv(string value) => new HashSet<string>(CsvArray(value), StringComparer.OrdinalIgnoreCase);

        private static string[] CsvArray(string value)
        {
            if (string.IsNullOrWhiteSpace(value)) return new string[0];
            var parts = value.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries);
            var result = new List<string>(parts.Length);
            foreach (var p in parts)
            {
                var t = p.Trim();
                if (t.Length > 0) result.Add(t);
            }
            return result.ToArray();
        }
    }
}
