using Sitecore.Pipelines.HttpRequest;

namespace XmCdp.TestHost
{
    /// <summary>
    /// TEST ONLY: <c>/personalized</c>, a page whose renderings are personalized with the XmCdp rule elements (IDs of
    /// the shipped items), and the data source items they switch between (<c>/sitecore/content/home/banners/*</c>).
    /// </summary>
    internal static class PersonalizedContent
    {
        private const string DecisionCondition = "{8E7B6159-F586-4C06-8391-1121E47B4B64}";
        private const string ExtensionCondition = "{AD45E46A-6D2E-4770-950F-6330F3A17290}";
        private const string IdentifiedCondition = "{5FB79C0F-AE3C-4354-B76F-4C738ABAA31C}";
        private const string DataSourceAction = "{91CAC220-D6D9-4855-83C2-2F772D11568E}";
        private const string Banners = "/sitecore/content/home/banners/";

        internal static void Register()
        {
            foreach (var name in new[] { "default", "banner-visitor", "banner-customer", "greeting-anonymous", "welcome-back",
                                         "offer-default", "offer-customer", "topic-none", "topic-bikes" })
                StubContent.Register("/banners/" + name, name);
            StubContent.Register("/personalized", "personalized");
            StubContent.Find("/personalized")["__Renderings"] = Layout;
        }

        private static string Rule(string conditions, string actions) =>
            "<rule uid=\"{00000000-0000-0000-0000-000000000001}\" name=\"cdp\"><conditions>" + conditions + "</conditions><actions>" + actions + "</actions></rule>";

        private static string SetDataSource(string name) =>
            "<action id=\"" + TestPersonalization.StockSetDataSource + "\" uid=\"A1\" DataSource=\"" + Banners + name + "\" />";

        // The layout of /personalized as Sitecore stores it in __Renderings (one device, rules inside each rendering).
        private static readonly string Layout =
            "<r xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><d id=\"{FE5D7FDF-89C0-4D99-9AA3-B5FBD009C9F3}\" l=\"{14030E9F-CE92-49C6-AD87-7D49B50E42EA}\">"
            // hero: the flow's variantId names the banner item under /banners/.
            + "<r id=\"{A1B2C3D4-0000-0000-0000-000000000001}\" ph=\"main\" uid=\"hero\" ds=\"" + Banners + "default\"><rls><ruleset>"
            + Rule("<condition id=\"" + TestPersonalization.StockTrue + "\" uid=\"C0\" />",
                   "<action id=\"" + DataSourceAction + "\" uid=\"A0\" FlowId=\"home_page_banner\" ResponseKey=\"variantId\" PathPrefix=\"" + Banners + "\" />")
            + "</ruleset></rls></r>"
            // offer: a marketer's rule on the decision's variant.
            + "<r id=\"{A1B2C3D4-0000-0000-0000-000000000002}\" ph=\"main\" uid=\"offer\" ds=\"" + Banners + "offer-default\"><rls><ruleset>"
            + Rule("<condition id=\"" + DecisionCondition + "\" uid=\"C1\" FlowId=\"home_page_banner\" Variant=\"banner-customer\" />", SetDataSource("offer-customer"))
            + "</ruleset></rls></r>"
            // greeting: identified visitors.
            + "<r id=\"{A1B2C3D4-0000-0000-0000-000000000003}\" ph=\"main\" uid=\"greeting\" ds=\"" + Banners + "greeting-anonymous\"><rls><ruleset>"
            + Rule("<condition id=\"" + IdentifiedCondition + "\" uid=\"C2\" />", SetDataSource("welcome-back"))
            + "</ruleset></rls></r>"
            // topic: a guest data extension field (string operator "is equal to").
            + "<r id=\"{A1B2C3D4-0000-0000-0000-000000000004}\" ph=\"main\" uid=\"topic\" ds=\"" + Banners + "topic-none\"><rls><ruleset>"
            + Rule("<condition id=\"" + ExtensionCondition + "\" uid=\"C3\" Extension=\"ext\" Key=\"newsletterTopic\" operatorid=\""
                   + global::Sitecore.Rules.Conditions.StubOperators.StringEquals + "\" Value=\"bikes\" />", SetDataSource("topic-bikes"))
            + "</ruleset></rls></r>"
            + "</d></r>";
    }
}
