using System;
using System.Reflection;
using System.Web;
using XmCdp.Browser;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// Every cookie this package sets goes through <c>Response.Cookies</c>: in IIS integrated mode System.Web rebuilds
    /// the Set-Cookie headers from that collection whenever it changes later in the request (e.g. the session-state
    /// module removing an unused session id on a first visit), which silently drops headers appended by hand.
    /// </summary>
    internal static class ResponseCookies
    {
        // HttpCookie.SameSite exists from .NET Framework 4.7.2; Mono 6.8's System.Web (and older frameworks) have no
        // such property and write Path verbatim, so there the attribute rides on Path, the documented workaround.
        private static readonly PropertyInfo s_sameSite = typeof(HttpCookie).GetProperty("SameSite");
        private static readonly object s_lax = s_sameSite != null ? Enum.Parse(s_sameSite.PropertyType, "Lax") : null;

        /// <summary>The browser id cookies: readable by JavaScript (Engage's browser tag shares them), SameSite=Lax.</summary>
        public static void SetBrowserCookies(HttpResponseBase response, CdpCookie[] cookies, bool secure)
        {
            for (int i = 0; i < cookies.Length; i++)
            {
                var c = cookies[i];
                var cookie = Lax(c.Name, c.Value, c.Path, secure, httpOnly: false);
                cookie.Expires = c.ExpiresUtc;
                if (c.Domain != null) cookie.Domain = c.Domain;
                // Add, not Set: the collection's names are case-insensitive, and the legacy BID_ deletion must not
                // replace the bid_ cookie.
                response.Cookies.Add(cookie);
            }
        }

        /// <summary>A session cookie with SameSite=Lax, Path=/, set through Response.Cookies.</summary>
        public static void SetSessionCookie(HttpResponseBase response, string name, string value, bool secure, bool httpOnly)
        {
            response.Cookies.Set(Lax(name, value, "/", secure, httpOnly));
        }

        /// <summary>
        /// The browser reached us over https: the connection, or a trusted proxy's header naming the original scheme
        /// (only when <paramref name="forwardedProtoHeader"/> is configured; the first value of a list counts).
        /// </summary>
        public static bool IsSecure(HttpRequestBase request, string forwardedProtoHeader)
        {
            if (request.IsSecureConnection) return true;
            if (string.IsNullOrEmpty(forwardedProtoHeader)) return false;
            var value = request.Headers[forwardedProtoHeader];
            if (string.IsNullOrEmpty(value)) return false;
            int comma = value.IndexOf(',');
            var first = (comma < 0 ? value : value.Substring(0, comma)).Trim();
            return first.Equals("https", StringComparison.OrdinalIgnoreCase);
        }

        private static HttpCookie Lax(string name, string value, string path, bool secure, bool httpOnly)
        {
            var cookie = new HttpCookie(name, value) { Secure = secure, HttpOnly = httpOnly };
            if (s_sameSite != null)
            {
                cookie.Path = path;
                s_sameSite.SetValue(cookie, s_lax);
            }
            else
            {
                cookie.Path = path + "; SameSite=Lax";
            }
            return cookie;
        }
    }
}
