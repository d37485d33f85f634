using System;
using System.Collections.Generic;
using System.Threading;
using System.Web;
using XmCdp.Decisions;
using XmCdp.Events;

namespace XmCdp.Sitecore
{
    /// <summary>
    /// What the request-begin processor learned about the current visitor, for renderings and controllers:
    /// <c>CdpContext.Current?.TrackEvent(new CustomEvent("ADD") { ... })</c>. Null when the request is not
    /// tracked (system site, bot, no consent, ...). Lives in <c>HttpContext.Items</c>; never in session
    /// (session does not exist yet in <c>httpRequestBegin</c>).
    /// <para>Decisions: <c>CdpContext.Current?.Decide("home_page_banner", TimeSpan.FromMilliseconds(150))</c> returns the
    /// answer prefetched at request begin (waiting at most the budget), or runs the flow, or reports why the
    /// fallback should be rendered. It never throws for a decision failure.</para>
    /// </summary>
    public sealed class CdpContext
    {
        internal const string ItemsKey = "XmCdp.CdpContext";

        /// <summary>HttpContext.Items key an earlier processor, a rendering or an experiment sets to the served variant id.</summary>
        public const string PageVariantItemsKey = "XmCdp.PageVariantId";

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

        private readonly object _gate = new object();
        // Created on first use: most pages neither prefetch nor decide, and this object is made on every tracked request.
        private Dictionary<string, DecisionTicket> _ticketsOrNull;
        private List<DecisionResult> _servedOrNull;
        private Dictionary<string, DecisionTicket> _tickets => _ticketsOrNull ?? (_ticketsOrNull = new Dictionary<string, DecisionTicket>(StringComparer.Ordinal));
        private List<DecisionResult> _served => _servedOrNull ?? (_servedOrNull = new List<DecisionResult>());

        private PageView _pendingView;

        /// <summary>True while this request's VIEW waits for the end of the request (<c>httpRequestEnd</c>).</summary>
        public bool ViewPending => Volatile.Read(ref _pendingView) != null;

        internal void DeferView(PageView view) => Volatile.Write(ref _pendingView, view);

        /// <summary>The deferred VIEW, once (null when none is pending or it was already taken).</summary>
        internal PageView TakePendingView() => Interlocked.Exchange(ref _pendingView, null);

        /// <summary>
        /// Queues the pending VIEW now (before another event of this request, so CDP sees the VIEW first); its variant
        /// is what is known so far. No-op when nothing is pending. Never throws.
        /// </summary>
        internal void FlushPendingView()
        {
            var view = TakePendingView();
            if (view != null) SendView(view);
        }

        /// <summary>Queues a (deferred) VIEW of this request, filling the variant from the decisions served so far.</summary>
        internal void SendView(PageView view)
        {
            if (string.IsNullOrEmpty(view.PageVariantId)) view.PageVariantId = ServedVariantIds();
            CdpStatus status;
            try
            {
                status = Site.Client.TryPageView(view);
            }
            catch (ObjectDisposedException)
            {
                // The app pool is shutting down and the client is gone.
                status = CdpStatus.ShutDown;
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("queueing the VIEW failed and it was skipped: " + XmCdpLog.Describe(e));
                status = CdpStatus.Internal;
            }
            ViewStatus = status;
            if (status != CdpStatus.Ok)
                XmCdpLog.SingleWarn("VIEW for site '" + Site.SiteName + "' was not queued: status " + (int)status + " (" + status + ")");
        }

        /// <summary>
        /// The <c>variantId</c> of each decision served so far (answered Ok), comma-separated in the order served;
        /// null when none carried one.
        /// </summary>
        internal string ServedVariantIds()
        {
            string result = null;
            lock (_gate)
            {
                if (_servedOrNull == null) return null;
                foreach (var r in _servedOrNull)
                {
                    if (!r.IsOk) continue;
                    var id = VariantId(r.Json);
                    if (id == null) continue;
                    result = result == null ? id : result + "," + id;
                }
            }
            return result;
        }

        /// <summary>The string value of the first <c>"variantId"</c> member of a decision's JSON; null when absent or escaped.</summary>
        internal static string VariantId(string json)
        {
            if (string.IsNullOrEmpty(json)) return null;
            const string Key = "\"variantId\"";
            int i = json.IndexOf(Key, StringComparison.Ordinal);
            if (i < 0) return null;
            i += Key.Length;
            while (i < json.Length && char.IsWhiteSpace(json[i])) i++;
            if (i >= json.Length || json[i] != ':') return null;
            i++;
            while (i < json.Length && char.IsWhiteSpace(json[i])) i++;
            if (i >= json.Length || json[i] != '"') return null;
            int start = ++i;
            while (i < json.Length && json[i] != '"')
            {
                if (json[i] == '\\' || json[i] < ' ') return null;
                i++;
            }
            if (i >= json.Length || i == start || i - start > 256) return null;
            return json.Substring(start, i - start);
        }

        /// <summary>Starts a decision for this visitor unless one is already running (TrackVisitor calls it for the configured flows).</summary>
        public void Prefetch(string friendlyId)
        {
            if (string.IsNullOrEmpty(friendlyId)) return;
            lock (_gate)
            {
                if (_tickets.ContainsKey(friendlyId)) return;
            }
            DecisionTicket ticket;
            try
            {
                ticket = Site.Client.BeginDecide(NewDecisionRequest(friendlyId));
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("starting decision '" + friendlyId + "' failed: " + XmCdpLog.Describe(e));
                return;
            }
            lock (_gate)
            {
                if (!_tickets.ContainsKey(friendlyId)) _tickets[friendlyId] = ticket;
            }
        }

        /// <summary>Friendly ids prefetched for this request.</summary>
        public IList<string> Prefetched
        {
            get { lock (_gate) return _ticketsOrNull == null ? new List<string>() : new List<string>(_ticketsOrNull.Keys); }
        }

        /// <summary>Decisions answered for this request so far (for diagnostics and the VIEW of the next page).</summary>
        public IList<DecisionResult> Served
        {
            get { lock (_gate) return _servedOrNull == null ? new List<DecisionResult>() : new List<DecisionResult>(_servedOrNull); }
        }

        /// <summary>
        /// The decision of flow <paramref name="friendlyId"/> for this visitor: the prefetched answer (waiting at most
        /// <paramref name="budget"/>), else a decision run now within the budget. Never throws for a decision failure;
        /// render <c>result.JsonOr(fallback)</c>. Repeated calls for one flow return the same answer.
        /// </summary>
        public DecisionResult Decide(string friendlyId, TimeSpan budget)
        {
            if (string.IsNullOrEmpty(friendlyId)) throw new ArgumentException("A friendly id is required.", nameof(friendlyId));
            DecisionResult result;
            try
            {
                DecisionTicket ticket;
                lock (_gate)
                {
                    _tickets.TryGetValue(friendlyId, out ticket);
                }
                if (ticket != null)
                {
                    result = ticket.Wait(budget);
                }
                else
                {
                    result = Site.Client.Decide(NewDecisionRequest(friendlyId), budget);
                    lock (_gate)
                    {
                        _tickets[friendlyId] = DecisionTicket.Completed(result);
                    }
                }
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("decision '" + friendlyId + "' failed and the fallback was used: " + XmCdpLog.Describe(e));
                result = DecisionResult.Unavailable(friendlyId, CdpStatus.Internal);
            }
            lock (_gate)
            {
                if (!_served.Contains(result)) _served.Add(result);
            }
            return result;
        }

        /// <summary>
        /// A decision request for this visitor (browser id, language, channel, currency, User-Agent, and the point of
        /// sale of the request's language). Every decision this context starts is built here, so a German page is
        /// decided for the German point of sale as its events are; the native decision cache keys on it, so the same
        /// visitor's French page gets its own answer. A caller that sets <see cref="DecisionRequest.PointOfSale"/> on
        /// the returned request overrides it.
        /// </summary>
        public DecisionRequest NewDecisionRequest(string friendlyId)
        {
            return new DecisionRequest(friendlyId)
            {
                BrowserId = BrowserId,
                Language = Language,
                Channel = Site.Channel,
                Currency = Site.Currency,
                UserAgent = UserAgent,
                // null = the site's default, filled in by the native side.
                PointOfSale = PointOfSale,
            };
        }

        /// <summary>Enqueues a custom event for this visitor; base fields left null are filled from the request.</summary>
        public CdpStatus TrackEvent(CustomEvent customEvent)
        {
            if (customEvent == null) throw new ArgumentNullException(nameof(customEvent));
            Fill(customEvent);
            FlushPendingView();
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
            FlushPendingView();
            try
            {
                return Site.Client.TryIdentity(identity);
            }
            catch (ObjectDisposedException)
            {
                return CdpStatus.ShutDown;
            }
        }

        private CdpVisitorGuest _guest;

        /// <summary>
        /// The visitor's CDP guest: read and write its data extensions in one line
        /// (<c>CdpContext.Current?.Guest.Extension("ext")?["loyaltyTier"]</c>). Resolved at most once per request, off the
        /// request thread, and only when first used (or at request begin with the site's <c>prefetchGuest</c>).
        /// </summary>
        public CdpVisitorGuest Guest
        {
            get
            {
                var g = Volatile.Read(ref _guest);
                if (g != null) return g;
                // The user of this request, captured on the request thread (Sitecore.Context is per request).
                var created = new CdpVisitorGuest(Site, BrowserId, global::Sitecore.Context.User);
                return Interlocked.CompareExchange(ref _guest, created, null) ?? created;
            }
        }

        /// <summary>The point of sale of this request's language (pointOfSaleByLanguage); null = the site's default.</summary>
        public string PointOfSale { get; internal set; }

        private void Fill(CdpEvent e)
        {
            if (e.PointOfSale == null) e.PointOfSale = PointOfSale;
            if (e.BrowserId == null) e.BrowserId = BrowserId;
            if (e.Language == null) e.Language = Language;
            if (e.Page == null) e.Page = Page;
            if (e.UserAgent == null) e.UserAgent = UserAgent;
        }
    }
}
