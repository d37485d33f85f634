using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Threading;
using System.Web.Script.Serialization;

namespace XmCdp.TestSupport
{
    /// <summary>
    /// Talks to xmcdp-emulator (the CDP stand-in). Its URL comes from XMCDP_EMULATOR_URL, which the test driver
    /// (xtask) sets after starting the emulator; a missing URL fails the test rather than skipping it.
    /// </summary>
    internal sealed class EmulatorClient
    {
        public EmulatorClient(string baseUrl)
        {
            BaseUrl = baseUrl.TrimEnd('/');
        }

        public string BaseUrl { get; }

        public static EmulatorClient FromEnvironment()
        {
            var url = Environment.GetEnvironmentVariable("XMCDP_EMULATOR_URL");
            if (string.IsNullOrEmpty(url))
                throw new InvalidOperationException("XMCDP_EMULATOR_URL is not set: run these tests through `cargo xtask` (xtask::dotnet::test), which starts xmcdp-emulator.");
            return new EmulatorClient(url);
        }

        /// <summary>A browser id minted by the emulator, as CDP's browser/create would.</summary>
        public string CreateBrowserId(string clientKey = "ck_test")
        {
            var json = Get("/v1.2/browser/create.json?client_key=" + clientKey + "&message=%7B%7D");
            return (string)Parse(json)["ref"];
        }

        /// <summary>Events the emulator accepted for a browser (each a dictionary; "body" is the sent JSON).</summary>
        public List<Dictionary<string, object>> Events(string browserId)
        {
            var json = Get("/__emulator/events?browser_id=" + Uri.EscapeDataString(browserId));
            var result = new List<Dictionary<string, object>>();
            foreach (var item in (ArrayList)Parse(json)["items"]) result.Add((Dictionary<string, object>)item);
            return result;
        }

        /// <summary>Polls until at least <paramref name="count"/> events arrived or the timeout passes.</summary>
        public List<Dictionary<string, object>> WaitForEvents(string browserId, int count, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (true)
            {
                var events = Events(browserId);
                if (events.Count >= count || sw.Elapsed > timeout) return events;
                Thread.Sleep(50);
            }
        }

        /// <summary>Replaces the emulator's fault configuration (<c>PUT /__emulator/faults</c>); "{}" clears it.</summary>
        public void SetFaults(string json)
        {
            using (var wc = new WebClient())
            {
                wc.Headers[HttpRequestHeader.ContentType] = "application/json";
                wc.UploadString(BaseUrl + "/__emulator/faults", "PUT", json);
            }
        }

        /// <summary>The guest ref behind a browser id as CDP reports it (<c>browser/{id}/show.json</c>); after a merge, the survivor.</summary>
        public string GuestRefOf(string browserId, string clientKey = "ck_test")
        {
            var show = Parse(Get("/v1.2/browser/" + Uri.EscapeDataString(browserId) + "/show.json?client_key=" + clientKey));
            return (string)((Dictionary<string, object>)show["customer"])["ref"];
        }

        /// <summary>One guest of the inspection API (guestType, email, identifiers, sessions, mergedInto).</summary>
        public Dictionary<string, object> Guest(string guestRef) => Parse(Get("/__emulator/guests/" + Uri.EscapeDataString(guestRef)));

        public static Dictionary<string, object> Body(Dictionary<string, object> ev) => (Dictionary<string, object>)ev["body"];

        private string Get(string pathAndQuery)
        {
            using (var wc = new WebClient())
            {
                wc.Encoding = System.Text.Encoding.UTF8;
                return wc.DownloadString(BaseUrl + pathAndQuery);
            }
        }

        private static Dictionary<string, object> Parse(string json) =>
            new JavaScriptSerializer().Deserialize<Dictionary<string, object>>(json);
    }
}
