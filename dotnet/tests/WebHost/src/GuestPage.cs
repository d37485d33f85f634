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
    /// <c>?guest=1</c> prints the resolved ref; a registration handler: <c>?register=NAME</c> creates the customer
    /// NAME@example.com with data extension ext, <c>?updateGuest=REF&amp;city=C</c> updates its profile. Every part prints
    /// one line starting with "guest".
    /// </summary>
    internal static class GuestPage
    {
        public static void Render(HttpContext context, CdpContext cdp, StringBuilder sb)
        {
            var q = context.Request.QueryString;
            if (cdp == null || (q["guest"] == null && q["guestSave"] == null && q["guestExt"] == null && q["guestCity"] == null
                && q["register"] == null && q["updateGuest"] == null)) return;
            int ms;
            var budget = int.TryParse(q["budget"], out ms) ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromSeconds(5);
            var key = Safe(q["key"]);
            if (q["register"] != null) Register(cdp, Safe(q["register"]), budget, sb);
            if (q["updateGuest"] != null) UpdateGuest(cdp, Safe(q["updateGuest"]), Safe(q["city"]), budget, sb);
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

        /// <summary>What a registration form's handler does: the new customer and its data extension in one call.</summary>
        private static void Register(CdpContext cdp, string name, TimeSpan budget, StringBuilder sb)
        {
            var email = name + "@example.com";
            var profile = new CdpGuestProfile { GuestType = CdpGuestTypes.Customer, Email = email, FirstName = name, LastName = "Demo" };
            profile.Identifiers.Add(new CdpIdentifier("email", email));
            profile.Extension("ext").Set("newsletter", true).Set("signupSource", "register-page");
            try
            {
                var json = ((CdpClient)cdp.Site.Client).Guests.Create(profile, budget);
                sb.Append("\nguest registered=").Append(CdpGuests.RefOf(json));
            }
            catch (XmCdpException e)
            {
                sb.Append("\nguest registered=failed ").Append(e.Status);
            }
        }

        private static void UpdateGuest(CdpContext cdp, string guestRef, string city, TimeSpan budget, StringBuilder sb)
        {
            try
            {
                ((CdpClient)cdp.Site.Client).Guests.Update(guestRef, new CdpGuestProfile { City = city, Country = "IE" }, budget);
                sb.Append("\nguest updated=Ok");
            }
            catch (XmCdpException e)
            {
                sb.Append("\nguest updated=").Append(e.Status);
            }
        }

        // Query values are visitor input: letters, digits and '-' only reach CDP.
        private static string Safe(string s) => new string((s ?? "").Where(ch => char.IsLetterOrDigit(ch) || ch == '-').Take(40).ToArray());
    }
}
