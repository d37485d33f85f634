using System.Linq;
using NUnit.Framework;
using XmCdp.Sitecore.Rules;
using Log = Sitecore.Diagnostics.Log;

namespace XmCdp.Sitecore.Tests.FormsAndRules
{
    [TestFixture]
    public class PrefetchScanTests
    {
        [SetUp]
        public void SetUp() => Log.Clear();

        private static string Layout(string rules) =>
            "<r><d id=\"{FE5D7FDF-89C0-4D99-9AA3-B5FBD009C9F3}\"><r uid=\"x\" ds=\"\"><rls><ruleset><rule uid=\"1\">" + rules + "</rule></ruleset></rls></r></d></r>";

        [Test]
        public void Scan_FindsTheFlowsExtensionsAndGuestTheRulesNeed_CaseInsensitively()
        {
            var needs = CdpRulePrefetch.Scan(Layout(
                "<conditions><and>"
                + "<condition id=\"" + CdpRules.ItemIds.DecisionVariantCondition.ToLowerInvariant() + "\" uid=\"a\" flowid=\"flow_a\" variant=\"v\" />"
                + "<condition id=\"" + CdpRules.ItemIds.GuestExtensionCondition + "\" uid=\"b\" Extension=\"ext2\" Key=\"k\" />"
                + "<condition id=\"" + CdpRules.ItemIds.GuestExtensionCondition + "\" uid=\"c\" Key=\"k\" />"
                + "<condition id=\"" + CdpRules.ItemIds.IdentifiedCondition + "\" uid=\"d\" except=\"true\" />"
                + "</and></conditions><actions>"
                + "<action id=\"" + CdpRules.ItemIds.DataSourceFromDecisionAction + "\" uid=\"e\" FlowId=\"flow_b\" />"
                + "<action id=\"" + CdpRules.ItemIds.DataSourceFromDecisionAction + "\" uid=\"f\" FlowId=\"flow_a\" />"
                + "</actions>"));
            Assert.That(needs.Flows, Is.EqualTo(new[] { "flow_a", "flow_b" }));
            Assert.That(needs.Extensions, Is.EqualTo(new[] { "ext2", "ext" }));
            Assert.That(needs.Guest, Is.True);
        }

        [Test]
        public void Scan_LayoutWithoutOurElements_NeedsNothing()
        {
            var needs = CdpRulePrefetch.Scan(Layout("<conditions><condition id=\"{4888ABBB-F17D-4485-B14B-842413F88732}\" uid=\"a\" /></conditions>"));
            Assert.That(needs.Any, Is.False);
            Assert.That(CdpRulePrefetch.Scan("").Any, Is.False);
            Assert.That(CdpRulePrefetch.Scan(null).Any, Is.False);
        }

        [Test]
        public void Scan_MalformedLayout_NeedsNothingAndWarnsOnce()
        {
            var bad = "<r><condition id=\"" + CdpRules.ItemIds.IdentifiedCondition + "\"></r>";
            Assert.That(CdpRulePrefetch.Scan(bad).Any, Is.False);
            Assert.That(CdpRulePrefetch.Scan(bad + " ").Any, Is.False);
            Assert.That(Log.Entries().Count(e => e.Contains("layout field is not well-formed XML")), Is.EqualTo(1));
        }

        [Test]
        public void Scan_SameLayoutAsANewString_IsAnsweredByContent()
        {
            // Sitecore builds the layout value anew on each read: a copy must give the same answer, and a value of the
            // same length that differs only where the cache's hash does not look must still get its own answer.
            var a = Layout("<conditions><condition id=\"" + CdpRules.ItemIds.DecisionVariantCondition + "\" uid=\"a\" flowid=\"flow_a\" /></conditions>");
            int at = a.IndexOf("flow_a", System.StringComparison.Ordinal) + 5;
            while (IsSampled(a, at)) a += " ";
            var b = a.Substring(0, at) + "b" + a.Substring(at + 1);
            Assert.That(CdpRulePrefetch.SampledOrdinal.Instance.GetHashCode(b), Is.EqualTo(CdpRulePrefetch.SampledOrdinal.Instance.GetHashCode(a)), "the two values collide in the cache's hash");

            Assert.That(CdpRulePrefetch.Scan(a).Flows, Is.EqualTo(new[] { "flow_a" }));
            Assert.That(CdpRulePrefetch.Scan(new string(a.ToCharArray())).Flows, Is.EqualTo(new[] { "flow_a" }));
            Assert.That(CdpRulePrefetch.Scan(b).Flows, Is.EqualTo(new[] { "flow_b" }));
            Assert.That(CdpRulePrefetch.Scan(new string(a.ToCharArray())).Flows, Is.EqualTo(new[] { "flow_a" }));
        }

        [Test]
        public void Scan_LayoutCachedAsNeedingNothing_DoesNotHideASameLengthLayoutThatNeedsAFlow()
        {
            var none = Layout("<conditions><condition id=\"{4888ABBB-F17D-4485-B14B-842413F88732}\" uid=\"abcd\" /></conditions>");
            var ours = CdpRules.ItemIds.DecisionVariantCondition;
            // Same length, our condition's id in place of the stock one.
            var withOurs = none.Replace("{4888ABBB-F17D-4485-B14B-842413F88732}\" uid=\"abcd\"", ours + "\" flowid=\"f\"");
            Assert.That(withOurs.Length, Is.EqualTo(none.Length));
            Assert.That(CdpRulePrefetch.Scan(none).Any, Is.False);
            Assert.That(CdpRulePrefetch.Scan(withOurs).Flows, Is.EqualTo(new[] { "f" }));
        }

        private static bool IsSampled(string s, int index)
        {
            int step = s.Length / 64 + 1;
            return (s.Length - 1 - index) % step == 0;
        }
    }
}
