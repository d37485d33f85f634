using System;
using System.Diagnostics;
using Sitecore.ExperienceForms.Models;
using XmCdp.Events;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// Submit action "Save to a CDP data extension": writes mapped form fields to the keys of a named data extension of
    /// the visitor's guest, creating the extension when the guest has none. Parameters:
    /// <c>{"extension":"ext","fields":{"Topic":"newsletterTopic"},"budgetMs":1500}</c>. Unlike events this is a
    /// synchronous Guest REST call, so it runs within budgetMs (default 1500, at most 10000); when CDP is slow or down
    /// the write is logged and dropped and the form still succeeds.
    /// </summary>
    public class SaveCdpDataExtension : CdpSubmitAction
    {
        public SaveCdpDataExtension(ISubmitActionData submitActionData) : base(submitActionData)
        {
        }

        protected override string ActionName => "Save to a CDP data extension";

        protected override void Run(CdpFormParameters parameters, CdpFormFields fields, CdpContext cdp)
        {
            var name = parameters.Text("extension") ?? "ext";
            var mapping = parameters.Mapping("fields", fields, true);
            var budgetMs = parameters.Number("budgetMs", 1500, 50, 10000);
            if (!IsExtensionName(name) && parameters.Error == null)
            {
                LogError("refused its parameters: 'extension' must be ext or ext1 to ext5. Nothing was sent to CDP.");
                return;
            }
            if (Refused(parameters) || Untracked(cdp)) return;

            var data = new CdpExtensionData();
            foreach (var m in mapping)
            {
                var value = fields.Get(m.Key);
                if (value != null) data.Set(m.Value, value);
            }
            if (data.Count == 0)
            {
                LogWarn("skipped: every mapped field was empty.");
                return;
            }
            var client = cdp.Site.Client as CdpClient;
            if (client == null)
            {
                LogWarn("skipped: the site's client offers no Guest API.");
                return;
            }
            var clock = Stopwatch.StartNew();
            var budget = TimeSpan.FromMilliseconds(budgetMs);
            try
            {
                var guestRef = client.GuestRefFor(cdp.BrowserId, budget);
                try
                {
                    client.Guests.PatchExtension(guestRef, name, data, Remaining(budget, clock));
                }
                catch (XmCdpException e) when (e.Status == CdpStatus.NotFound)
                {
                    client.Guests.CreateExtension(guestRef, name, data, Remaining(budget, clock));
                }
            }
            catch (XmCdpException e)
            {
                LogWarn("could not write data extension '" + name + "' within " + budgetMs + " ms: status " + (int)e.Status + " (" + e.Status + "); the data was not saved in CDP.");
            }
            catch (ObjectDisposedException)
            {
                LogWarn("skipped: the CDP client is shutting down.");
            }
        }

        /// <summary>What is left of the budget, at least 1 ms (zero would mean "the configured default").</summary>
        private static TimeSpan Remaining(TimeSpan budget, Stopwatch clock)
        {
            var left = budget - clock.Elapsed;
            return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
        }

        internal static bool IsExtensionName(string name)
        {
            return name == "ext" || (name.Length == 4 && name.StartsWith("ext", StringComparison.Ordinal) && name[3] >= '1' && name[3] <= '5');
        }
    }
}
