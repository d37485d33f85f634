using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Web;
using XmCdp.Browser;
using XmCdp.Decisions;
using XmCdp.Events;

namespace XmCdp.Sitecore.Tests
{
    internal sealed class FakeRequest : HttpRequestBase
    {
        private readonly Uri _url;
        private readonly NameValueCollection _query;
        private readonly NameValueCollection _headers = new NameValueCollection();
        private readonly HttpCookieCollection _cookies = new HttpCookieCollection();

        public FakeRequest(string url)
        {
            _url = new Uri(url);
            _query = HttpUtility.ParseQueryString(_url.Query);
            _headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
        }

        public override Uri Url => _url;
        public override string Path => _url.AbsolutePath;
        public override NameValueCollection QueryString => _query;
        public override NameValueCollection Headers
        {
            get
            {
                // What a browser sends: the raw Cookie header built from the cookies added by the test.
                if (_cookies.Count > 0)
                {
                    var parts = new List<string>();
                    for (int i = 0; i < _cookies.Count; i++) parts.Add(_cookies[i].Name + "=" + _cookies[i].Value);
                    _headers["Cookie"] = string.Join("; ", parts);
                }
                return _headers;
            }
        }
        public override HttpCookieCollection Cookies => _cookies;
        public override string UserAgent => _headers["User-Agent"];
        public override bool IsSecureConnection => _url.Scheme == "https";
    }

    /// <summary>
    /// Models System.Web in IIS integrated mode: Set-Cookie headers are rebuilt from <see cref="Cookies"/> whenever
    /// that collection changes, which discards headers appended by hand. A later module always changes it here, as
    /// <c>SessionIDManager.RemoveSessionID</c> does on a first visit whose new session is unused (Sitecore runs InProc
    /// session with <c>ConditionalSessionIdManager</c>): <see cref="SetCookieHeaders"/> is what the browser receives.
    /// </summary>
    internal sealed class FakeResponse : HttpResponseBase
    {
        private readonly HttpCookieCollection _cookies = new HttpCookieCollection();
        private readonly List<string> _handAppended = new List<string>();
        public override HttpCookieCollection Cookies => _cookies;
        public override int StatusCode { get; set; } = 200;
        public override string ContentType { get; set; } = "text/html";
        public override System.Text.Encoding ContentEncoding { get; set; } = System.Text.Encoding.UTF8;

        /// <summary>Set-Cookie headers as sent, after the end-of-request cookie change and rebuild.</summary>
        public List<string> SetCookieHeaders
        {
            get
            {
                EndOfRequestCookieChange();
                var headers = new List<string>(_handAppended);
                for (int i = 0; i < _cookies.Count; i++) headers.Add(SetCookieValue(_cookies[i]));
                return headers;
            }
        }

        /// <summary>SessionIDManager.RemoveSessionID: Response.Cookies changes, so hand-appended Set-Cookie headers go.</summary>
        public void EndOfRequestCookieChange()
        {
            _cookies.Remove("ASP.NET_SessionId");
            _handAppended.Clear();
        }

        public override void AppendHeader(string name, string value)
        {
            if (string.Equals(name, "Set-Cookie", StringComparison.OrdinalIgnoreCase)) _handAppended.Add(value);
        }

        public override void AddHeader(string name, string value) => AppendHeader(name, value);

        /// <summary>System.Web's HttpCookie.GetSetCookieHeader format (SameSite from the 4.7.2+ property when present).</summary>
        internal static string SetCookieValue(HttpCookie c)
        {
            var sb = new System.Text.StringBuilder();
            sb.Append(c.Name).Append('=').Append(c.Value);
            if (!string.IsNullOrEmpty(c.Domain)) sb.Append("; domain=").Append(c.Domain);
            if (c.Expires != DateTime.MinValue)
                sb.Append("; expires=").Append(c.Expires.ToUniversalTime().ToString("ddd, dd-MMM-yyyy HH':'mm':'ss 'GMT'", System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(c.Path)) sb.Append("; path=").Append(c.Path);
            if (c.Secure) sb.Append("; secure");
            if (c.HttpOnly) sb.Append("; HttpOnly");
            var sameSite = typeof(HttpCookie).GetProperty("SameSite");
            if (sameSite != null && (int)sameSite.GetValue(c) >= 0) sb.Append("; SameSite=").Append(sameSite.GetValue(c));
            return sb.ToString();
        }
    }

    internal sealed class FakeHttpContext : HttpContextBase
    {
        private readonly FakeRequest _request;
        private readonly FakeResponse _response = new FakeResponse();
        private readonly Hashtable _items = new Hashtable();

        public FakeHttpContext(string url)
        {
            _request = new FakeRequest(url);
        }

        public FakeRequest FakeRequest => _request;
        public FakeResponse FakeResponse => _response;
        public override HttpRequestBase Request => _request;
        public override HttpResponseBase Response => _response;
        public override IDictionary Items => _items;

        public FakeHttpContext WithCookie(string name, string value)
        {
            _request.Cookies.Add(new HttpCookie(name, value));
            return this;
        }

        public FakeHttpContext WithHeader(string name, string value)
        {
            _request.Headers[name] = value;
            return this;
        }
    }

    /// <summary>Records what a processor enqueues (the native client is exercised by the end-to-end tests).</summary>
    internal sealed class RecordingClient : ICdpClient, IDisposable
    {
        public RecordingClient(string clientKey)
        {
            ClientKey = clientKey;
        }

        public string ClientKey { get; }
        public List<PageView> Views { get; } = new List<PageView>();
        public List<IdentityEvent> Identities { get; } = new List<IdentityEvent>();
        public List<CustomEvent> Events { get; } = new List<CustomEvent>();
        public CdpStatus NextStatus { get; set; } = CdpStatus.Ok;
        public bool ThrowOnPageView { get; set; }
        public bool Disposed { get; private set; }

        public CdpStatus TryPageView(PageView view)
        {
            if (ThrowOnPageView) throw new InvalidOperationException("boom with secret-looking text tok_123");
            Views.Add(view);
            return NextStatus;
        }

        public CdpStatus TryIdentity(IdentityEvent identity)
        {
            if (Closed) throw new ObjectDisposedException("CdpClient");
            Identities.Add(identity);
            return NextStatus;
        }

        public bool Closed { get; set; }

        public CdpStatus TryEvent(CustomEvent customEvent)
        {
            if (Closed) throw new ObjectDisposedException("CdpClient");
            Events.Add(customEvent);
            return NextStatus;
        }

        /// <summary>Browser id answers: a valid bid_/BID_ cookie is kept (BID_ migrated); otherwise NewBrowserId is "created".</summary>
        public string NewBrowserId { get; set; } = "new-bid-1";
        /// <summary>The site's cookie domain: the native side appends <c>; Domain=</c> to its Set-Cookie values.</summary>
        public string CookieDomain { get; set; }
        public CdpStatus BrowserIdStatus { get; set; } = CdpStatus.Ok;
        public List<string> CookieHeaders { get; } = new List<string>();

        public BrowserIdResult EnsureBrowserId(string cookieHeader, TimeSpan budget)
        {
            CookieHeaders.Add(cookieHeader);
            if (BrowserIdStatus != CdpStatus.Ok) return BrowserIdResult.Failed(BrowserIdStatus);
            var current = CookieValue(cookieHeader, "bid_" + ClientKey);
            if (current != null) return Make(BrowserIdSource.Cookie, current, null);
            var legacy = CookieValue(cookieHeader, "BID_" + ClientKey);
            if (legacy != null)
                return Make(BrowserIdSource.Legacy, legacy, new[] { "bid_" + ClientKey + "=" + legacy + "; Max-Age=63072000; SameSite=None; Secure; Path=/" + Domain, "BID_" + ClientKey + "=; Max-Age=0; Path=/" + Domain });
            return Make(BrowserIdSource.Created, NewBrowserId, new[] { "bid_" + ClientKey + "=" + NewBrowserId + "; Max-Age=63072000; SameSite=None; Secure; Path=/" + Domain });
        }

        private string Domain => string.IsNullOrEmpty(CookieDomain) ? "" : "; Domain=" + CookieDomain;

        private static BrowserIdResult Make(BrowserIdSource source, string id, string[] cookies)
        {
            var ctor = typeof(BrowserIdResult).GetConstructors(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)[0];
            return (BrowserIdResult)ctor.Invoke(new object[] { CdpStatus.Ok, source, source == BrowserIdSource.Created, id, null, cookies });
        }

        private static string CookieValue(string header, string name)
        {
            if (header == null) return null;
            foreach (var part in header.Split(';'))
            {
                var kv = part.Trim();
                if (!kv.StartsWith(name + "=", StringComparison.Ordinal)) continue;
                var v = kv.Substring(name.Length + 1);
                foreach (var ch in v)
                    if (!(char.IsLetterOrDigit(ch) && ch < 128) && ch != '-' && ch != '_') return null;
                return v.Length > 0 ? v : null;
            }
            return null;
        }

        public List<DecisionRequest> Started { get; } = new List<DecisionRequest>();
        public List<DecisionRequest> Decided { get; } = new List<DecisionRequest>();

        public DecisionTicket BeginDecide(DecisionRequest request)
        {
            Started.Add(request);
            return DecisionTicket.Completed(DecisionResult.Unavailable(request.FriendlyId, CdpStatus.Timeout, "prefetched " + request.FriendlyId));
        }

        public DecisionResult Decide(DecisionRequest request, TimeSpan budget)
        {
            if (Closed) throw new ObjectDisposedException("CdpClient");
            Decided.Add(request);
            return DecisionResult.Unavailable(request.FriendlyId, CdpStatus.FlowNotFound, "decided " + request.FriendlyId);
        }

        public void Dispose() => Disposed = true;
    }
}
