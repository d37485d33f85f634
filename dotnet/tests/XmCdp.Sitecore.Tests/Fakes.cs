using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Web;
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
        public override NameValueCollection Headers => _headers;
        public override HttpCookieCollection Cookies => _cookies;
        public override string UserAgent => _headers["User-Agent"];
        public override bool IsSecureConnection => _url.Scheme == "https";
    }

    internal sealed class FakeResponse : HttpResponseBase
    {
        private readonly HttpCookieCollection _cookies = new HttpCookieCollection();
        public override HttpCookieCollection Cookies => _cookies;
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

        public void Dispose() => Disposed = true;
    }
}
