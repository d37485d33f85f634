using System;
using Sitecore.Rules.Actions;
using Sitecore.Rules.ConditionalRenderings;

namespace XmCdp.Sitecore.Rules
{
    /// <summary>
    /// Conditional-renderings action "set the data source to the item named by the CDP decision of flow [FlowId]": the
    /// flow's response member [ResponseKey] (default <c>datasource</c>; e.g. <c>variantId</c>) holds an item ID or path,
    /// optionally under [PathPrefix] (<c>/sitecore/content/Data/Banners/</c> + <c>hero-b</c>). The item must exist in
    /// the context database; otherwise, or when CDP did not answer, the rendering keeps its data source (logged once).
    /// </summary>
    public class SetDataSourceFromDecision<T> : RuleAction<T> where T : ConditionalRenderingsRuleContext
    {
        private const string Who = "CDP data source action";

        public string FlowId { get; set; }
        public string ResponseKey { get; set; }
        public string PathPrefix { get; set; }

        public override void Apply(T ruleContext)
        {
            try
            {
                if (ruleContext?.Reference?.Settings == null) return;
                var r = CdpRules.Decision(FlowId, Who);
                if (r == null) return;
                var key = string.IsNullOrWhiteSpace(ResponseKey) ? "datasource" : ResponseKey.Trim();
                var value = CdpRules.Member(r.Json, key);
                if (string.IsNullOrWhiteSpace(value))
                {
                    XmCdpLog.SingleWarn(Who + ": the response of '" + FlowId.Trim() + "' has no '" + key + "'; the data source is unchanged.");
                    return;
                }
                var target = value.Trim();
                Guid unused;
                if (!Guid.TryParse(target, out unused)) target = (PathPrefix ?? "").Trim() + target;
                if (!Guid.TryParse(target, out unused) && !target.StartsWith("/", StringComparison.Ordinal))
                {
                    XmCdpLog.SingleWarn(Who + ": '" + key + "' of '" + FlowId.Trim() + "' is neither an item ID nor a path; set PathPrefix. The data source is unchanged.");
                    return;
                }
                var db = global::Sitecore.Context.Database;
                var item = db != null ? db.GetItem(target) : null;
                if (item == null)
                {
                    XmCdpLog.SingleWarn(Who + ": no item '" + target + "' for the decision of '" + FlowId.Trim() + "'; the data source is unchanged.");
                    return;
                }
                // As the stock SetDataSourceAction: the item's ID, which survives moves and renames.
                ruleContext.Reference.Settings.DataSource = item.ID.ToString();
            }
            catch (Exception e)
            {
                XmCdpLog.SingleError(Who + " failed; the data source is unchanged: " + XmCdpLog.Describe(e));
            }
        }
    }
}
