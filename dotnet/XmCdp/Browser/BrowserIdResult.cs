namespace XmCdp.Browser
{
    /// <summary>Where a visitor's browser id came from (mirrors <c>xmcdp_browser_source_t</c>).</summary>
    public enum BrowserIdSource
    {
        None = 0,
        /// <summary>The current cookie; nothing to emit.</summary>
        Cookie = 1,
        /// <summary>The legacy cookie (<c>BID_{clientKey}</c>), migrated: emit both Set-Cookie values.</summary>
        Legacy = 2,
        /// <summary>A new id from the pool created ahead of time (no network wait).</summary>
        Pool = 3,
        /// <summary>A new id created in CDP during the call.</summary>
        Created = 4,
    }

    /// <summary>
    /// The visitor's browser id for a request, plus the <c>Set-Cookie</c> header values to emit (each one its own
    /// header, attributes as the official SDK writes them: Max-Age, SameSite=None, Secure, Path=/, Domain).
    /// </summary>
    public sealed class BrowserIdResult
    {
        private static readonly string[] None = new string[0];

        internal BrowserIdResult(CdpStatus status, BrowserIdSource source, bool isNew, string browserId, string guestRef, string[] setCookies)
        {
            Status = status;
            Source = source;
            IsNew = isNew;
            BrowserId = browserId;
            GuestRef = guestRef;
            SetCookieHeaders = setCookies ?? None;
            var now = System.DateTime.UtcNow;
            var cookies = new System.Collections.Generic.List<CdpCookie>(SetCookieHeaders.Length);
            foreach (var header in SetCookieHeaders)
            {
                var cookie = CdpCookie.Parse(header, now);
                if (cookie != null) cookies.Add(cookie);
            }
            Cookies = cookies.ToArray();
        }

        public static BrowserIdResult Failed(CdpStatus status) => new BrowserIdResult(status, BrowserIdSource.None, false, null, null, null);

        /// <summary>Ok, or why there is no id (e.g. 50 Timeout or a 60s remote status when creating one failed).</summary>
        public CdpStatus Status { get; }
        public BrowserIdSource Source { get; }
        /// <summary>The id is new to this visitor (a first visit).</summary>
        public bool IsNew { get; }
        /// <summary>The browser id; null unless <see cref="Status"/> is Ok.</summary>
        public string BrowserId { get; }
        /// <summary>The guest ref CDP returned with a newly created id; null when unknown.</summary>
        public string GuestRef { get; }
        /// <summary>Values of the <c>Set-Cookie</c> headers to emit, in order (empty when the cookie is right).</summary>
        public string[] SetCookieHeaders { get; }
        /// <summary>
        /// The same cookies parsed, in order, for hosts that must set cookies through their own API (System.Web:
        /// <c>Response.Cookies</c>, never a hand-appended Set-Cookie header).
        /// </summary>
        public CdpCookie[] Cookies { get; }

        public bool IsOk => Status == CdpStatus.Ok && BrowserId != null;
    }
}
