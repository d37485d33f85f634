using System;
using System.Configuration;
using System.Security.Cryptography;
using System.Text;
using Sitecore.Pipelines.HttpRequest;
using XmCdp.Sitecore.Admin;

namespace XmCdp.Sitecore.Pipelines.HttpRequestBegin
{
    /// <summary>
    /// First <c>httpRequestBegin</c> processor: serves the admin page's JSON (<see cref="XmCdpStatus.Json"/>) on the
    /// path named by the appSetting <c>XmCdp.StatusPath</c>, for monitoring of CD servers that block <c>/sitecore</c>.
    /// Off unless both that path and the shared key <c>XmCdp.StatusKey</c> (at least 16 characters) are set; a request
    /// must send the key in the <c>X-XmCdp-Key</c> header (compared in constant time), else it gets 403 and nothing
    /// else. The key is never logged or echoed. Never throws.
    /// </summary>
    public class StatusEndpoint : HttpRequestProcessor
    {
        public const string PathAppSetting = "XmCdp.StatusPath";
        public const string KeyAppSetting = "XmCdp.StatusKey";
        public const string KeyHeader = "X-XmCdp-Key";

        private readonly Lazy<Tuple<string, byte[]>> _config = new Lazy<Tuple<string, byte[]>>(ReadConfig);

        private static Tuple<string, byte[]> ReadConfig()
        {
            var path = ConfigurationManager.AppSettings[PathAppSetting];
            var key = ConfigurationManager.AppSettings[KeyAppSetting];
            if (string.IsNullOrWhiteSpace(path)) return null;
            path = path.Trim();
            if (!path.StartsWith("/", StringComparison.Ordinal))
            {
                XmCdpLog.Error("the status endpoint is off: " + PathAppSetting + " must start with '/'.");
                return null;
            }
            if (string.IsNullOrEmpty(key) || key.Length < 16)
            {
                XmCdpLog.Error("the status endpoint is off: " + KeyAppSetting + " is missing or shorter than 16 characters.");
                return null;
            }
            XmCdpLog.Info("status JSON served on " + path + " to requests with the shared key");
            return Tuple.Create(path, Hash(key));
        }

        public override void Process(HttpRequestArgs args)
        {
            try
            {
                var http = args?.HttpContext;
                if (http == null) return;
                var config = _config.Value;
                if (config == null || !string.Equals(http.Request.Path, config.Item1, StringComparison.OrdinalIgnoreCase)) return;
                var response = http.Response;
                response.Cache.SetCacheability(System.Web.HttpCacheability.NoCache);
                var given = http.Request.Headers[KeyHeader];
                if (string.IsNullOrEmpty(given) || !FixedTimeEquals(Hash(given), config.Item2))
                {
                    response.StatusCode = 403;
                    response.ContentType = "text/plain";
                    response.Write("forbidden: the " + KeyHeader + " header must hold the shared key");
                }
                else
                {
                    response.ContentType = "application/json";
                    response.Write(XmCdpStatus.Json());
                }
                args.AbortPipeline();
                if (http.ApplicationInstance != null) http.ApplicationInstance.CompleteRequest();
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError("the status endpoint failed: " + XmCdpLog.Describe(e));
            }
        }

        private static byte[] Hash(string s)
        {
            using (var sha = SHA256.Create()) return sha.ComputeHash(Encoding.UTF8.GetBytes(s));
        }

        private static bool FixedTimeEquals(byte[] a, byte[] b)
        {
            int diff = a.Length ^ b.Length;
            for (int i = 0; i < a.Length && i < b.Length; i++) diff |= a[i] ^ b[i];
            return diff == 0;
        }
    }
}
