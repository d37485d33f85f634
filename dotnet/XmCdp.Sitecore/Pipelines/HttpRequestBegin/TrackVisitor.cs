using System;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Web;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Pipelines.HttpRequestEnd;
using XmCdp.Events;

namespace XmCdp.Sitecore.Pipelines.HttpRequestBegin
{
    /// <summary>
    /// <c>httpRequestBegin</c> processor, patched before <c>LayoutResolver</c> (after MVC's <c>TransferRoutedRequest</c>): for a real page request of a tracked
    /// site it makes sure the visitor has a browser id cookie, enqueues a VIEW event, once per login an IDENTITY
    /// event, and starts the decisions configured for the site/item (prefetch). Nothing here waits on the network,
    /// except a first visit when the native browser-id pool is empty (at most BrowserIdBudgetMs). It returns early on every guard, never
    /// aborts the pipeline and never lets an exception escape: tracking must not be able to break a page.
    /// Processors are singletons: configuration is set once by the config factory, per-request state is local.
    /// </summary>
    public class TrackVisitor : HttpRequestProcessor
    {
        internal const string IdentityCookiePrefix = "xmcdp_idn_";

        // Which requests are tracked at all; the config factory's properties below are set through to it.
        private readonly VisitorFilter _filter = new VisitorFilter();
        // Language name -> CDP language code, copy on write (a site has a handful of languages).
        private volatile Dictionary<string, string> _languageCodes = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>Master switch (e.g. patched off per environment).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Comma-separated site names never tracked (system sites).</summary>
        public string IgnoredSites
        {
            get { return _filter.IgnoredSites; }
            set { _filter.IgnoredSites = value; }
        }

        /// <summary>Comma-separated path prefixes never tracked (media, static, APIs).</summary>
        public string IgnoredPathPrefixes
        {
            get { return _filter.IgnoredPathPrefixes; }
            set { _filter.IgnoredPathPrefixes = value; }
        }

        /// <summary>Config factory hook: <c>&lt;botUserAgents hint="list:AddBotUserAgent"&gt;</c>, case-insensitive substrings.</summary>
        public void AddBotUserAgent(string pattern) => _filter.AddBotUserAgent(pattern);

        /// <summary>When set, track only visitors whose cookie of this name holds one of <see cref="ConsentValues"/>.</summary>
        public string ConsentCookieName
        {
            get { return _filter.ConsentCookieName; }
            set { _filter.ConsentCookieName = value; }
        }

        /// <summary>Comma-separated cookie values that mean "consent given".</summary>
        public string ConsentValues
        {
            get { return _filter.ConsentValues; }
            set { _filter.ConsentValues = value; }
        }

        /// <summary>Skip requests carrying <c>DNT: 1</c>.</summary>
        public bool HonorDoNotTrack
        {
            get { return _filter.HonorDoNotTrack; }
            set { _filter.HonorDoNotTrack = value; }
        }

        /// <summary>Query parameter naming the served variant when no earlier processor put one in HttpContext.Items.</summary>
        public string PageVariantQueryParameter
        {
            get { return _variantParameter; }
            set
            {
                _variantParameterLower = string.IsNullOrEmpty(value) || !AsciiText.IsAscii(value) ? null : value.ToLowerInvariant();
                _variantParameter = value;
            }
        }

        private string _variantParameter = "variantid";
        private string _variantParameterLower = "variantid";

        /// <summary>Send the Referer only when it points to another host (internal navigation says nothing new).</summary>
        public bool ExternalReferrerOnly { get; set; } = true;

        /// <summary>
        /// Longest a first visit may wait for a browser id to be created in CDP when the native pool
        /// (site attribute browserIdPoolSize) is empty. Visitors with a cookie never wait.
        /// </summary>
        public int BrowserIdBudgetMs { get; set; } = 300;

        /// <summary>
        /// Queue the VIEW at the end of the request (by <see cref="SendPageView"/> in <c>httpRequestEnd</c>) instead of
        /// here, so it carries the variant the renderings served; the cookie is still set here. The pending VIEW lives
        /// in the request's <see cref="CdpContext"/>. Explicit on purpose: the config factory creates a pipeline's
        /// processors when that pipeline first runs, so whether SendPageView exists cannot be known from here; the
        /// shipped config sets this together with SendPageView.
        /// </summary>
        public bool DeferView { get; set; }

        /// <summary>
        /// Name of a request header set by a trusted TLS-terminating load balancer (e.g. <c>X-Forwarded-Proto</c>) whose
        /// value <c>https</c> makes cookies Secure although the connection to this server is plain http. Empty (the
        /// default): only the connection counts, since any client can send the header to a server reached directly.
        /// </summary>
        public string ForwardedProtoHeader { get; set; }

        /// <summary>Send an IDENTITY event the first time a logged-in user is seen on a browser.</summary>
        public bool TrackIdentity { get; set; } = true;

        /// <summary>Identifier provider of the IDENTITY event (must be one of the tenant's identity rules).</summary>
        public string IdentityProvider { get; set; } = "email";

        /// <summary>HttpContext.Items key an earlier processor or experiment may set to the served variant id.</summary>
        public const string PageVariantItemsKey = CdpContext.PageVariantItemsKey;

        public override void Process(HttpRequestArgs args)
        {
            try
            {
                if (!Enabled || args == null || args.HttpContext == null) return;
                Track(args.HttpContext);
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("tracking failed and was skipped for this request: " + XmCdpLog.Describe(e));
            }
        }

        protected virtual void Track(HttpContextBase http)
        {
            var site = global::Sitecore.Context.Site;
            if (site == null || _filter.IgnoresSite(site.Name)) return;
            var binding = XmCdpSites.Find(site.Name);
            if (binding == null) return;
            if (!VisitorFilter.IsNormalPageMode()) return;
            var item = global::Sitecore.Context.Item;
            if (item == null) return;

            var request = http.Request;
            var userAgent = request.UserAgent;
            if (!_filter.Admits(request, userAgent)) return;

            // The native side reads bid_ (then the legacy BID_) from the raw header, ignores hostile values, and
            // for a first visit takes a pre-created id from its pool or creates one within the budget.
            var id = binding.Client.EnsureBrowserId(request.Headers["Cookie"], TimeSpan.FromMilliseconds(BrowserIdBudgetMs));
            if (!id.IsOk)
            {
                XmCdpLog.SingleWarn("a visitor got no browser id and was not tracked: status " + (int)id.Status + " (" + id.Status + ")");
                return;
            }
            var browserId = id.BrowserId;
            var cookies = id.Cookies;
            if (cookies.Length > 0) ResponseCookies.SetBrowserCookies(http.Response, cookies, ResponseCookies.IsSecure(request, ForwardedProtoHeader));

            var contextLanguage = global::Sitecore.Context.Language;
            var language = LanguageCode(contextLanguage);
            var ctx = new CdpContext(binding, browserId, language, item.Name, userAgent);
            ctx.PointOfSale = binding.PointOfSaleFor(contextLanguage != null ? contextLanguage.Name : null);
            http.Items[CdpContext.ItemsKey] = ctx;

            var url = request.Url != null ? request.Url.PathAndQuery : request.Path;
            var view = new PageView
            {
                BrowserId = browserId,
                Language = language,
                Page = item.Name,
                Url = url,
                Referrer = Referrer(request),
                PageVariantId = PageVariant(http, url),
                UserAgent = userAgent,
                PointOfSale = ctx.PointOfSale,
            };
            if (binding.BrowserTag.BrowserOwnsView)
            {
                // viewOwner="browser": the Engage tag sends this page's VIEW; one VIEW per page, never two.
            }
            else if (DeferView)
            {
                // Queued by SendPageView (httpRequestEnd) once renderings have decided, with the served variant.
                ctx.DeferView(view);
            }
            else
            {
                var status = binding.Client.TryPageView(view);
                ctx.ViewStatus = status;
                if (status != CdpStatus.Ok)
                    XmCdpLog.SingleWarn("VIEW for site '" + binding.SiteName + "' was not queued: status " + (int)status + " (" + status + ")");
            }

            if (TrackIdentity) Identify(http, binding, ctx);
            if (binding.PrefetchGuest) ctx.Guest.Prefetch();
            Prefetch(binding, ctx, item.Paths != null ? item.Paths.FullPath : null);
            // Flows and guest data named by the personalization rules of the page's renderings.
            Rules.CdpRulePrefetch.Start(http.Items, ctx, item);
        }

        /// <summary>Starts the decisions configured for this site and item; renderings claim them via CdpContext.Decide.</summary>
        private static void Prefetch(SiteBinding binding, CdpContext ctx, string itemPath)
        {
            var flows = binding.Decisions.FlowsFor(itemPath);
            for (int i = 0; i < flows.Count; i++) ctx.Prefetch(flows[i]);
        }

        private string LanguageCode(global::Sitecore.Globalization.Language lang)
        {
            if (lang == null) return null;
            var name = lang.Name;
            if (name == null) return ComputeLanguageCode(lang);
            var cache = _languageCodes;
            string code;
            if (cache.TryGetValue(name, out code)) return code;
            code = ComputeLanguageCode(lang);
            if (cache.Count < 256)
            {
                var copy = new Dictionary<string, string>(cache, StringComparer.Ordinal);
                copy[name] = code;
                _languageCodes = copy;
            }
            return code;
        }

        private static string ComputeLanguageCode(global::Sitecore.Globalization.Language lang)
        {
            try
            {
                var two = lang.CultureInfo.TwoLetterISOLanguageName;
                if (!string.IsNullOrEmpty(two) && two.Length == 2) return two.ToUpperInvariant();
            }
            catch (CultureNotFoundException)
            {
            }
            var langName = lang.Name ?? string.Empty;
            int dash = langName.IndexOf('-');
            var primary = dash > 0 ? langName.Substring(0, dash) : langName;
            return primary.Length == 2 ? primary.ToUpperInvariant() : null;
        }

        private string Referrer(HttpRequestBase request)
        {
            var referrer = request.Headers["Referer"];
            if (string.IsNullOrEmpty(referrer)) return null;
            if (!ExternalReferrerOnly) return referrer;
            Uri uri;
            if (!Uri.TryCreate(referrer, UriKind.Absolute, out uri)) return null;
            var host = request.Url != null ? request.Url.Host : null;
            return string.Equals(uri.Host, host, StringComparison.OrdinalIgnoreCase) ? null : referrer;
        }

        private string PageVariant(HttpContextBase http, string url)
        {
            var fromItems = http.Items[PageVariantItemsKey] as string;
            if (!string.IsNullOrEmpty(fromItems)) return fromItems;
            if (string.IsNullOrEmpty(PageVariantQueryParameter)) return null;
            // QueryString is a NameValueCollection (culture-aware case-insensitive hashing, slow on Mono): ask it only when
            // the query can hold the parameter (its name appears literally, or the query has %-escapes).
            if (url != null && !MayHaveQueryParameter(url, _variantParameterLower)) return null;
            var q = http.Request.QueryString[PageVariantQueryParameter];
            return string.IsNullOrEmpty(q) ? null : q;
        }

        /// <summary>
        /// IDENTITY once per login on this browser: a cookie remembers a hash of (client key, browser id, user),
        /// so neither the user name nor the e-mail address ever reaches a cookie or a log.
        /// </summary>
        private void Identify(HttpContextBase http, SiteBinding binding, CdpContext ctx)
        {
            var user = global::Sitecore.Context.User;
            if (user == null || !user.IsAuthenticated) return;
            // The marker first: on every later page of the login it answers without loading the user's profile.
            var marker = Marker(binding.ClientKey, ctx.BrowserId, user.Name);
            var cookieName = IdentityCookiePrefix + binding.ClientKey;
            var existing = AsciiText.CookieValue(http.Request.Headers["Cookie"], cookieName);
            if (existing == marker) return;

            var profile = user.Profile;
            var email = profile != null ? profile.Email : null;
            if (string.IsNullOrEmpty(email)) return;

            var identity = new IdentityEvent
            {
                BrowserId = ctx.BrowserId,
                Language = ctx.Language,
                Page = ctx.Page,
                UserAgent = ctx.UserAgent,
                Email = email,
                PointOfSale = ctx.PointOfSale,
            };
            identity.Identifiers.Add(new CdpIdentifier(IdentityProvider, email));
            // CDP must see this page's VIEW before the IDENTITY: a deferred VIEW goes now (once per login).
            ctx.FlushPendingView();
            var status = binding.Client.TryIdentity(identity);
            ctx.IdentityStatus = status;
            if (status == CdpStatus.Ok)
                ResponseCookies.SetSessionCookie(http.Response, cookieName, marker, ResponseCookies.IsSecure(http.Request, ForwardedProtoHeader), httpOnly: true);
            else
                XmCdpLog.SingleWarn("IDENTITY for site '" + binding.SiteName + "' was not queued: status " + (int)status + " (" + status + ")");
        }

        internal static string Marker(string clientKey, string browserId, string userName)
        {
            using (var sha = SHA256.Create())
            {
                var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(clientKey + "\n" + browserId + "\n" + userName));
                var sb = new StringBuilder(32);
                for (int i = 0; i < 16; i++) sb.Append(hash[i].ToString("x2", CultureInfo.InvariantCulture));
                return sb.ToString();
            }
        }

        /// <param name="lower">The parameter name in lower case; null (non-ASCII name) means "maybe".</param>
        private static bool MayHaveQueryParameter(string url, string lower)
        {
            int q = url.IndexOf('?');
            if (q < 0) return false;
            if (lower == null || url.IndexOf('%', q) >= 0) return true;
            // Only where the first character matches (ASCII case folded; any non-ASCII character may fold to it).
            int first = lower[0];
            for (int i = q + 1; i + lower.Length <= url.Length; i++)
            {
                int c = url[i];
                if (c < 128 && (c | 0x20) != first && c != first) continue;
                if (AsciiText.RegionEqualsIgnoreCase(url, i, lower)) return true;
            }
            return false;
        }
    }
}
