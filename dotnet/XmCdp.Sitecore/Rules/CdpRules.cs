using System;
using System.Collections.Generic;
using XmCdp.Decisions;

namespace XmCdp.Sitecore.Rules
{
    /// <summary>
    /// What the XmCdp conditions and actions read: decisions and guest data prefetched at request begin, waited for
    /// within <see cref="Budget"/> (Sitecore setting <c>XmCdp.Rules.BudgetMs</c>, default 150). When CDP cannot
    /// answer in time the condition is false and one warning per flow and reason is logged (not one per page).
    /// </summary>
    public static class CdpRules
    {
        /// <summary>The condition and action items shipped as serialized items (dotnet/XmCdp.Sitecore/serialization).</summary>
        public static class ItemIds
        {
            public const string DecisionVariantCondition = "{8E7B6159-F586-4C06-8391-1121E47B4B64}";
            public const string GuestExtensionCondition = "{AD45E46A-6D2E-4770-950F-6330F3A17290}";
            public const string IdentifiedCondition = "{5FB79C0F-AE3C-4354-B76F-4C738ABAA31C}";
            public const string DataSourceFromDecisionAction = "{91CAC220-D6D9-4855-83C2-2F772D11568E}";
        }

        private static int s_budgetMs = -1;

        /// <summary>The longest a condition waits for a prefetched answer on the rendering thread.</summary>
        public static TimeSpan Budget
        {
            get
            {
                if (s_budgetMs < 0)
                {
                    var ms = global::Sitecore.Configuration.Settings.GetIntSetting("XmCdp.Rules.BudgetMs", 150);
                    s_budgetMs = ms < 1 || ms > 5000 ? 150 : ms;
                }
                return TimeSpan.FromMilliseconds(s_budgetMs);
            }
        }

        /// <summary>The flow's answer for this visitor, or null (untracked visitor, or CDP did not answer: logged once).</summary>
        internal static DecisionResult Decision(string flowId, string who)
        {
            var cdp = CdpContext.Current;
            if (cdp == null) return null;
            if (string.IsNullOrWhiteSpace(flowId))
            {
                XmCdpLog.SingleWarn(who + ": the rule names no flow; it evaluates to false.");
                return null;
            }
            var r = cdp.Decide(flowId.Trim(), Budget);
            if (r.IsOk) return r;
            XmCdpLog.SingleWarn(who + ": decision '" + flowId.Trim() + "' unavailable (" + r.Outcome + ", status " + (int)r.Status + "); the rule evaluates to false.");
            return null;
        }

        /// <summary>A top-level string (or number) member of a JSON object; null when absent or not JSON.</summary>
        internal static string Member(string json, string name)
        {
            var o = Object(json);
            object v;
            if (o == null || !o.TryGetValue(name, out v) || v == null) return null;
            if (v is string) return (string)v;
            if (v is bool) return (bool)v ? "true" : "false";
            if (v is IFormattable) return ((IFormattable)v).ToString(null, System.Globalization.CultureInfo.InvariantCulture);
            return null;
        }

        internal static Dictionary<string, object> Object(string json) => CdpJson.Object(json);
    }
}
