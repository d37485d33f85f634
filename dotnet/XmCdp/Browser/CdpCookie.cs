using System;
using System.Globalization;

namespace XmCdp.Browser
{
    /// <summary>
    /// One cookie the native side asks to set, parsed from the <c>Set-Cookie</c> value it wrote, so that a host can
    /// emit it through its own cookie API (System.Web rebuilds Set-Cookie headers from <c>Response.Cookies</c> and
    /// drops headers appended by hand). The attributes the host decides per request (Secure, SameSite, HttpOnly)
    /// are not carried: the native value is written for Engage's browser tag, not for a particular request.
    /// </summary>
    public sealed class CdpCookie
    {
        private CdpCookie(string name, string value, DateTime expiresUtc, string path, string domain)
        {
            Name = name;
            Value = value;
            ExpiresUtc = expiresUtc;
            Path = path;
            Domain = domain;
        }

        public string Name { get; }
        /// <summary>Empty for a deletion.</summary>
        public string Value { get; }
        /// <summary>When the browser drops the cookie; in the past for a deletion (the legacy cookie's migration).</summary>
        public DateTime ExpiresUtc { get; }
        public string Path { get; }
        /// <summary>Null: the request's host.</summary>
        public string Domain { get; }
        public bool IsDeletion => ExpiresUtc <= DateTime.UtcNow;

        /// <summary>Parses <c>name=value; Max-Age=N | Expires=date; Path=p; Domain=d; …</c>; null if it is not one.</summary>
        public static CdpCookie Parse(string setCookie, DateTime nowUtc)
        {
            if (string.IsNullOrEmpty(setCookie)) return null;
            var parts = setCookie.Split(';');
            int eq = parts[0].IndexOf('=');
            if (eq <= 0) return null;
            var name = parts[0].Substring(0, eq).Trim();
            var value = parts[0].Substring(eq + 1).Trim();
            DateTime? expires = null;
            string path = "/", domain = null;
            for (int i = 1; i < parts.Length; i++)
            {
                var attr = parts[i].Trim();
                int aeq = attr.IndexOf('=');
                var key = aeq < 0 ? attr : attr.Substring(0, aeq).Trim();
                var val = aeq < 0 ? string.Empty : attr.Substring(aeq + 1).Trim();
                if (key.Equals("Max-Age", StringComparison.OrdinalIgnoreCase))
                {
                    long seconds;
                    if (long.TryParse(val, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seconds))
                        expires = seconds <= 0 ? new DateTime(1970, 1, 1, 0, 0, 1, DateTimeKind.Utc) : nowUtc.AddSeconds(Math.Min(seconds, 3153600000L));
                }
                else if (key.Equals("Expires", StringComparison.OrdinalIgnoreCase) && !expires.HasValue)
                {
                    DateTime at;
                    if (DateTime.TryParseExact(val, "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", CultureInfo.InvariantCulture,
                            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out at))
                        expires = at;
                }
                else if (key.Equals("Path", StringComparison.OrdinalIgnoreCase) && val.Length > 0) path = val;
                else if (key.Equals("Domain", StringComparison.OrdinalIgnoreCase) && val.Length > 0) domain = val;
            }
            // A session cookie is never what the native side writes; treat a missing lifetime as "no cookie".
            if (!expires.HasValue) return null;
            return new CdpCookie(name, value, expires.Value, path, domain);
        }
    }
}
