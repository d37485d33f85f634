using System;
using System.Web;
using XmCdp.Events;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// What the request-begin processor learned about the current visitor, for renderings and controllers:
    /// <c>CdpContext.Current?.TrackEvent(new CustomEvent("ADD") { ... })</c>. Null when the request is not
    /// tracked (system site, bot, no consent, ...). Lives in <c>HttpContext.Items</c>; never in session
    /// (session does not exist yet in <c>httpRequestBegin</c>).
    /// <para>Planned with the native decision calls: <c>Decide(friendlyId, budget)</c> and the prefetch ticket
    /// started at request begin (<c>BeginDecide</c> → <c>ticket.Wait(budget)</c>).</para>
    /// </summary>
    public sealed class CdpContext
    {
        internal const string ItemsKey = "XmCdp.CdpContext";

        internal CdpContext(SiteBinding site, string browserId, string language, string page, string userAgent)
        {
            Site = site;
            BrowserId = browserId;
            Language = language;
            Page = page;
            UserAgent = userAgent;
        }

        public static CdpContext Current
        {
            get
            {
                var http = HttpContext.Current;
                return http == null ? null : http.Items[ItemsKey] as CdpContext;
            }
        }

        public static CdpContext From(HttpContextBase httpContext)
        {
            return httpContext?.Items[ItemsKey] as CdpContext;
        }

        public SiteBinding Site { get; }
        public string BrowserId { get; }
        public string Language { get; }
        public string Page { get; }
        internal string UserAgent { get; }
        /// <summary>Status of this request's VIEW event (null when none was sent).</summary>
        public CdpStatus? ViewStatus { get; internal set; }
        /// <summary>Status of this request's IDENTITY event (null when none was sent).</summary>
        public CdpStatus? IdentityStatus { get; internal set; }

        /// <summary>Enqueues a custom event for this visitor; base fields left null are filled from the request.</summary>
        public CdpStatus TrackEvent(CustomEvent customEvent)
        {
            if (customEvent == null) throw new ArgumentNullException(nameof(customEvent));
            Fill(customEvent);
            try
            {
                return Site.Client.TryEvent(customEvent);
            }
            catch (ObjectDisposedException)
            {
                // The app pool is shutting down and the client is gone: a rendering must not fail for that.
                return CdpStatus.ShutDown;
            }
        }

        /// <summary>Enqueues an IDENTITY event for this visitor (e.g. after a form submission).</summary>
        public CdpStatus Identify(IdentityEvent identity)
        {
            if (identity == null) throw new ArgumentNullException(nameof(identity));
            Fill(identity);
            try
            {
                return Site.Client.TryIdentity(identity);
            }
            catch (ObjectDisposedException)
            {
                return CdpStatus.ShutDown;
            }
        }

        private void Fill(CdpEvent e)
        {
            if (e.BrowserId == null) e.BrowserId = BrowserId;
            if (e.Language == null) e.Language = Language;
            if (e.Page == null) e.Page = Page;
            if (e.UserAgent == null) e.UserAgent = UserAgent;
        }
    }
}
