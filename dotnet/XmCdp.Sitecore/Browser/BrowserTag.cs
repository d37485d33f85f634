using System;
using System.Globalization;
using System.Text;
using System.Web;

namespace XmCdp.Sitecore.Browser
{
    /// <summary>
    /// The Sitecore Engage browser tag for the current visitor, so Web Experiences / Web Experiments run next to the
    /// server-side tracking without a second browser id or a second VIEW:
    /// <list type="bullet">
    /// <item>written only for a request <see cref="TrackVisitor"/> tracked (a <see cref="CdpContext"/> exists): never
    /// for bots, the Experience Editor, preview, visitors without consent, or untracked sites;</item>
    /// <item>initialised with <c>forceServerCookieMode</c>: the SDK reads the <c>bid_</c> cookie the server set in this
    /// same response and never calls <c>browser/create</c>;</item>
    /// <item>sends <c>pageView</c> only when the site's <c>viewOwner</c> is <c>browser</c> (then the server sends none);</item>
    /// <item>every value is JSON-encoded for a script block (<c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, quotes and line
    /// separators as <c>\uXXXX</c>), every attribute HTML-encoded; the CSP nonce of the page
    /// (<c>HttpContext.Items["XmCdp.CspNonce"]</c>) goes on both script elements.</item>
    /// </list>
    /// Written once per request: the rendering helper and the response filter (<c>InjectBrowserTag</c>) never both write it.
    /// Razor: <c>@XmCdp.Sitecore.Browser.BrowserTag.Html()</c> (an <see cref="IHtmlString"/>, not encoded again).
    /// </summary>
    public static class BrowserTag
    {
        /// <summary>HttpContext.Items key where the page (or a CSP module) puts the nonce of its Content-Security-Policy.</summary>
        public const string CspNonceItemsKey = "XmCdp.CspNonce";

        internal const string WrittenItemsKey = "XmCdp.BrowserTagWritten";

        /// <summary>The tag for the current request, or an empty string; never throws.</summary>
        public static IHtmlString Html()
        {
            var http = HttpContext.Current;
            return new HtmlString(http == null ? string.Empty : Render(new HttpContextWrapper(http)));
        }

        /// <summary>The tag for <paramref name="http"/>'s visitor, once per request; empty when the request is not tracked.</summary>
        public static string Render(HttpContextBase http)
        {
            try
            {
                if (http == null || http.Items[WrittenItemsKey] != null) return string.Empty;
                var ctx = CdpContext.From(http);
                if (ctx == null) return string.Empty;
                var tag = ctx.Site.BrowserTag;
                if (tag == null || !tag.Enabled) return string.Empty;
                http.Items[WrittenItemsKey] = true;
                return Build(ctx, tag, http.Items[CspNonceItemsKey] as string);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("the browser tag was not written for this request: " + XmCdpLog.Describe(e));
                return string.Empty;
            }
        }

        internal static string Build(CdpContext ctx, BrowserTagSettings tag, string nonce)
        {
            var site = ctx.Site;
            if (nonce != null && !BrowserTagSettings.IsBase64(nonce))
            {
                XmCdpLog.SingleWarn("the page's CSP nonce is not base64; the browser tag is written without it.");
                nonce = null;
            }
            var nonceAttr = nonce != null ? " nonce=\"" + HttpUtility.HtmlAttributeEncode(nonce) + "\"" : string.Empty;
            var sb = new StringBuilder(1024);
            sb.Append("<script src=\"").Append(HttpUtility.HtmlAttributeEncode(tag.ScriptUrl)).Append("\" defer");
            if (tag.Integrity != null)
                sb.Append(" integrity=\"").Append(HttpUtility.HtmlAttributeEncode(tag.Integrity)).Append("\" crossorigin=\"anonymous\"");
            sb.Append(nonceAttr).Append("></script>\n");

            sb.Append("<script").Append(nonceAttr).Append(">(function(){var s={");
            Pair(sb, "clientKey", site.ClientKey, first: true);
            Pair(sb, "targetURL", tag.TargetUrl);
            Pair(sb, "pointOfSale", ctx.PointOfSale ?? site.PointOfSale);
            if (!string.IsNullOrEmpty(tag.CookieDomain)) Pair(sb, "cookieDomain", tag.CookieDomain);
            if (tag.CookieExpiryDays.HasValue)
                sb.Append(",\"cookieExpiryDays\":").Append(tag.CookieExpiryDays.Value.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\"forceServerCookieMode\":true,\"includeUTMParameters\":true,\"webPersonalization\":")
                .Append(tag.WebPersonalization ? "true" : "false").Append("},v=");
            if (tag.BrowserOwnsView)
            {
                sb.Append('{');
                Pair(sb, "channel", site.Channel ?? "WEB", first: true);
                if (!string.IsNullOrEmpty(site.Currency)) Pair(sb, "currency", site.Currency);
                if (!string.IsNullOrEmpty(ctx.Language)) Pair(sb, "language", ctx.Language);
                if (!string.IsNullOrEmpty(ctx.Page)) Pair(sb, "page", ctx.Page);
                sb.Append('}');
            }
            else
            {
                sb.Append("null");
            }
            // Deferred scripts run before DOMContentLoaded; a blocked or failed script leaves the page as it is.
            sb.Append(";function go(){var E=window.Engage;if(!E||typeof E.init!==\"function\")return;")
                .Append("E.init(s).then(function(e){window.XmCdpEngage=e;if(v)return e.pageView(v);})")
                .Append("[\"catch\"](function(x){if(window.console)console.warn(\"XmCdp: Engage browser tag: \"+x);});}")
                .Append("if(document.readyState===\"loading\")document.addEventListener(\"DOMContentLoaded\",go);else go();})();</script>\n");
            return sb.ToString();
        }

        private static void Pair(StringBuilder sb, string name, string value, bool first = false)
        {
            if (!first) sb.Append(',');
            sb.Append('"').Append(name).Append("\":");
            ScriptString(sb, value);
        }

        /// <summary>A JSON string that is also safe inside an HTML script element (no "&lt;/script", no "&lt;!--").</summary>
        internal static void ScriptString(StringBuilder sb, string value)
        {
            if (value == null)
            {
                sb.Append("null");
                return;
            }
            sb.Append('"');
            foreach (var c in value)
            {
                if (c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == '\'' || c == '\u2028' || c == '\u2029')
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else
                    sb.Append(c);
            }
            sb.Append('"');
        }
    }
}
