using System;
using System.Web;
using XmCdp.Browser;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// The CDP visitor of a form submission. Sitecore Forms posts to its own MVC route (<c>/formbuilder</c>), which
    /// the stock TransferRoutedRequest hands to MVC before TrackVisitor runs, so the submission usually has no
    /// <see cref="CdpContext"/>. It is then made here from the context site and the visitor's existing browser-id
    /// cookie: a visitor whose pages were never tracked (bot, no consent, other site) has none and stays untracked;
    /// a form post never mints a browser id.
    /// </summary>
    internal static class CdpFormVisitor
    {
        internal static CdpContext Resolve()
        {
            var cdp = CdpContext.Current;
            if (cdp != null) return cdp;
            var http = HttpContext.Current;
            var site = global::Sitecore.Context.Site;
            if (http == null || site == null) return null;
            var binding = XmCdpSites.Find(site.Name);
            if (binding == null) return null;
            var cookieHeader = http.Request.Headers["Cookie"];
            if (string.IsNullOrEmpty(cookieHeader)) return null;
            var id = binding.Client.EnsureBrowserId(cookieHeader, TimeSpan.FromMilliseconds(50));
            if (!id.IsOk || (id.Source != BrowserIdSource.Cookie && id.Source != BrowserIdSource.Legacy)) return null;
            var language = global::Sitecore.Context.Language;
            var code = language?.CultureInfo?.TwoLetterISOLanguageName;
            var item = global::Sitecore.Context.Item;
            cdp = new CdpContext(binding, id.BrowserId, string.IsNullOrEmpty(code) || code.Length != 2 ? null : code.ToUpperInvariant(),
                item != null ? item.Name : "form", http.Request.UserAgent);
            cdp.PointOfSale = binding.PointOfSaleFor(language?.Name);
            http.Items[CdpContext.ItemsKey] = cdp;
            return cdp;
        }
    }
}
