using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NUnit.Framework;
using Sitecore.ExperienceForms.Models;
using Sitecore.ExperienceForms.Processing;
using Sitecore.Rules;
using Sitecore.Rules.Actions;
using Sitecore.Rules.ConditionalRenderings;
using Sitecore.Rules.Conditions;
using XmCdp.Sitecore.Rules;

namespace XmCdp.Sitecore.Tests.FormsAndRules
{
    /// <summary>
    /// The shipped items (as copied into the test site, byte for byte) name classes of the BUILT XmCdp.Sitecore.dll
    /// that Sitecore can instantiate where it uses them. The YAML shape itself is checked by `cargo test -p xtask`.
    /// </summary>
    [TestFixture]
    public class SerializedItemsTests
    {
        private static readonly string Condition = "f0d16eee-3a05-4e43-a082-795a32b873c0";
        private static readonly string Action = "f90052a5-b4e6-4e6d-9812-1e1b88a6fcea";

        private static List<Dictionary<string, string>> Items()
        {
            var dir = Path.Combine(Environment.GetEnvironmentVariable("XMCDP_TEST_OUT") ?? "", "site", "App_Data", "XmCdp", "serialization", "items");
            Assert.That(Directory.Exists(dir), dir);
            var items = new List<Dictionary<string, string>>();
            foreach (var file in Directory.GetFiles(dir, "*.yml", SearchOption.AllDirectories))
            {
                var item = new Dictionary<string, string> { { "file", file } };
                string hint = null;
                foreach (var line in File.ReadAllLines(file))
                {
                    var m = Regex.Match(line, "^(ID|Template|Path): \"?(.*?)\"?$");
                    if (m.Success) item[m.Groups[1].Value] = m.Groups[2].Value;
                    m = Regex.Match(line, "^  Hint: (.*)$");
                    if (m.Success) hint = m.Groups[1].Value;
                    m = Regex.Match(line, "^  Value: \"(.*)\"$");
                    if (m.Success) item["field:" + hint] = m.Groups[1].Value;
                }
                items.Add(item);
            }
            return items;
        }

        [Test]
        public void EveryRuleElementType_IsAClassOfTheBuiltAssembly_ThatTheRulesEngineCanClose()
        {
            var elements = Items().Where(i => i["Template"] == Condition || i["Template"] == Action).ToList();
            Assert.That(elements, Has.Count.EqualTo(4));
            foreach (var item in elements)
            {
                var type = Type.GetType(item["field:Type"], false);
                Assert.That(type, Is.Not.Null, item["file"] + ": " + item["field:Type"]);
                Assert.That(type.Assembly, Is.SameAs(typeof(CdpRules).Assembly));
                Assert.That(type.IsGenericTypeDefinition && type.IsPublic, item["file"]);
                var closed = type.MakeGenericType(typeof(ConditionalRenderingsRuleContext));
                var expected = item["Template"] == Condition ? typeof(RuleCondition<ConditionalRenderingsRuleContext>) : typeof(RuleAction<ConditionalRenderingsRuleContext>);
                Assert.That(expected.IsAssignableFrom(closed), item["file"]);
                Assert.That(closed.GetConstructor(Type.EmptyTypes), Is.Not.Null, "the rules engine needs a public parameterless constructor");
                // Every [Macro] of the Text names a writable property (case-insensitively, as the factory sets them).
                foreach (Match m in Regex.Matches(item["field:Text"], @"\[([A-Za-z]+),"))
                {
                    var p = closed.GetProperty(m.Groups[1].Value, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
                    Assert.That(p != null && p.CanWrite && p.PropertyType == typeof(string), item["file"] + ": " + m.Groups[1].Value);
                }
            }
        }

        [Test]
        public void RuleElementItemIds_AreTheIdsThePrefetchLooksFor()
        {
            var ids = Items().Where(i => i["Template"] == Condition || i["Template"] == Action)
                .Select(i => "{" + i["ID"].ToUpperInvariant() + "}").OrderBy(s => s).ToList();
            var expected = new[]
            {
                CdpRules.ItemIds.DecisionVariantCondition, CdpRules.ItemIds.GuestExtensionCondition,
                CdpRules.ItemIds.IdentifiedCondition, CdpRules.ItemIds.DataSourceFromDecisionAction,
            }.OrderBy(s => s).ToList();
            Assert.That(ids, Is.EqualTo(expected));
        }

        [Test]
        public void EverySubmitActionModelType_IsASubmitActionOfTheBuiltAssemblyWithTheFormsConstructor()
        {
            var actions = Items().Where(i => i.ContainsKey("field:Model Type")).ToList();
            Assert.That(actions, Has.Count.EqualTo(3));
            foreach (var item in actions)
            {
                var type = Type.GetType(item["field:Model Type"], false);
                Assert.That(type, Is.Not.Null, item["file"]);
                Assert.That(type.Assembly, Is.SameAs(typeof(CdpRules).Assembly));
                Assert.That(typeof(ISubmitAction).IsAssignableFrom(type) && !type.IsAbstract && type.IsPublic, item["file"]);
                Assert.That(type.GetConstructor(new[] { typeof(ISubmitActionData) }), Is.Not.Null, item["file"]);
            }
        }
    }
}
