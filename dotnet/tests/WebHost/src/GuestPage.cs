using System;
using System.Linq;
using System.Text;
using System.Web;
using XmCdp.Events;
using XmCdp.Guests;
using XmCdp.Sitecore;

namespace XmCdp.TestHost
{
    /// <summary>
    /// TEST ONLY: a rendering and a registration handler using <see cref="CdpContext.Guest"/>, one line each:
    /// <c>?guestSave=ext&amp;key=K&amp;value=V</c> writes a data extension key, <c>?guestCity=C</c> updates the profile,
    /// <c>?guestExt=ext&amp;key=K</c> reads a key (twice: the second read is served by the request's cache),
    /// <c>?guest=1</c> prints the resolved ref. Every part prints one line starting with "guest".
    /// </summary>
    internal static class GuestPage
    {
        public static void Render(HttpContext context, CdpContext cdp, StringBuilder sb)
        {
            var q = context.Request.QueryString;
            if (cdp == null || (q["guest"] == null && q["guestSave"] == null && q["guestExt"] == null && q["guestCity"] == null)) return;
            int ms;
            var budget = int.TryParse(q["budget"], out ms) ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromSeconds(5);
            var key = Safe(q["key"]);
            if (q["guestSave"] != null)
                sb.Append("\nguest save=").Append(cdp.Guest.SaveExtension(Safe(q["guestSave"]), new CdpExtensionData().Set(key, Safe(q["value"])), budget));
            if (q["guestCity"] != null)
                sb.Append("\nguest update=").Append(cdp.Guest.Update(new CdpGuestProfile { City = Safe(q["guestCity"]) }, budget));
            if (q["guestExt"] != null)
            {
                var first = cdp.Guest.Extension(Safe(q["guestExt"]), budget);
                var again = cdp.Guest.Extension(Safe(q["guestExt"]), budget);
                object value = null;
                if (first != null) first.TryGetValue(key, out value);
                sb.Append("\nguest ext.").Append(key).Append('=').Append(value ?? "none").Append(" cached=").Append(ReferenceEquals(first, again) ? "yes" : "no");
            }
            if (q["guest"] != null)
            {
                var guestRef = cdp.Guest.GetRef(budget);
                sb.Append("\nguest ref=").Append(guestRef ?? "none").Append(" status=").Append(cdp.Guest.Status?.ToString() ?? "pending")
                    .Append(" byUser=").Append(cdp.Guest.ResolvedByUser ? "yes" : "no");
            }
        }

        // Query values are visitor input: letters, digits and '-' only reach CDP.
        private static string Safe(string s) => new string((s ?? "").Where(ch => char.IsLetterOrDigit(ch) || ch == '-').Take(40).ToArray());
    }
}
