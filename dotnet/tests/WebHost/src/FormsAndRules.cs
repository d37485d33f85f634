using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Web;
using System.Xml;
using Sitecore.ExperienceForms.Models;
using Sitecore.ExperienceForms.Processing;
using Sitecore.Layouts;
using Sitecore.Pipelines.HttpRequest;
using Sitecore.Rules;
using Sitecore.Rules.ConditionalRenderings;

namespace XmCdp.TestHost
{
    /// <summary>TEST ONLY: a text field view model as Sitecore.ExperienceForms.Mvc's StringInputViewModel (Value: string).</summary>
    public class StringFieldViewModel : IViewModel
    {
        public string ItemId { get; set; }
        public string Name { get; set; }
        public string TemplateId { get; set; }
        public string Value { get; set; }
    }

    /// <summary>TEST ONLY: a checkbox list as ListViewModel (Value: List&lt;string&gt;).</summary>
    public class ListFieldViewModel : IViewModel
    {
        public string ItemId { get; set; }
        public string Name { get; set; }
        public string TemplateId { get; set; }
        public List<string> Value { get; set; }
    }

    /// <summary>
    /// TEST ONLY: the SHIPPED serialized items (App_Data/XmCdp/serialization, a byte copy of
    /// dotnet/XmCdp.Sitecore/serialization) play the database: rule elements and submit actions are created from
    /// their Type / Model Type fields, as Sitecore creates them from the pushed items.
    /// </summary>
    internal static class SerializedItems
    {
        internal sealed class Item
        {
            public string Id, Template, Path;
            public readonly Dictionary<string, string> Fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        internal static List<Item> Load(string dir)
        {
            var items = new List<Item>();
            if (!Directory.Exists(dir)) return items;
            foreach (var file in Directory.GetFiles(dir, "*.yml", SearchOption.AllDirectories))
            {
                var item = new Item();
                string hint = null;
                foreach (var line in File.ReadAllLines(file))
                {
                    var m = Regex.Match(line, "^(ID|Template|Path): \"?(.*?)\"?$");
                    if (m.Success)
                    {
                        if (m.Groups[1].Value == "ID") item.Id = m.Groups[2].Value;
                        else if (m.Groups[1].Value == "Template") item.Template = m.Groups[2].Value;
                        else item.Path = m.Groups[2].Value;
                        continue;
                    }
                    m = Regex.Match(line, "^  Hint: (.*)$");
                    if (m.Success) hint = m.Groups[1].Value.Trim();
                    m = Regex.Match(line, "^  Value: \"(.*)\"$");
                    if (m.Success && hint != null) item.Fields[hint] = m.Groups[1].Value.Replace("\\\"", "\"").Replace("\\\\", "\\");
                }
                items.Add(item);
            }
            return items;
        }
    }

    /// <summary>
    /// TEST ONLY: Sitecore Forms' submit path (<c>POST /formbuilder?form=NAME</c>, an MVC route, so httpRequestBegin is
    /// aborted before TrackVisitor as for the real /formbuilder). Builds the FormSubmitContext from the posted fields and
    /// runs the form's submit actions through the stand-in ExecuteSubmitActions; prints <c>form=ok|failed errors=N</c>.
    /// </summary>
    internal static class TestForms
    {
        private static readonly Dictionary<string, string> s_submitActionTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        // Forms of the test site: name → (submit action item name, parameters JSON as the Forms designer saves them).
        private static readonly Dictionary<string, string[][]> s_forms = new Dictionary<string, string[][]>(StringComparer.OrdinalIgnoreCase)
        {
            {
                "contact", new[]
                {
                    new[] { "Send CDP event", "{\"eventType\":\"NEWSLETTER_SIGNUP\",\"fields\":{\"Topic\":\"topic\",\"Interests\":\"interests\"}}" },
                    new[] { "Identify visitor in CDP", "{\"emailField\":\"Email\",\"firstNameField\":\"FirstName\",\"lastNameField\":\"LastName\"}" },
                    new[] { "Save to a CDP data extension", "{\"extension\":\"ext\",\"fields\":{\"Topic\":\"newsletterTopic\"},\"budgetMs\":3000}" },
                }
            },
            {
                "broken", new[]
                {
                    new[] { "Send CDP event", "{\"eventType\":\"BROKEN_GOAL\",\"fields\":{\"Nope\":\"x\"}}" },
                    new[] { "Save to a CDP data extension", "{\"extension\":\"ext9\",\"fields\":{\"Topic\":\"t\"}}" },
                    new[] { "Identify visitor in CDP", "not json" },
                    new[] { "Send CDP event", "{\"eventType\":\"AFTER_BROKEN\"}" },
                }
            },
        };

        internal static void Register(IEnumerable<SerializedItems.Item> items)
        {
            foreach (var item in items)
            {
                string type;
                if (item.Fields.TryGetValue("Model Type", out type))
                    s_submitActionTypes[item.Path.Substring(item.Path.LastIndexOf('/') + 1)] = type;
            }
        }

        internal static void Handle(HttpContext context, StringBuilder sb)
        {
            var name = context.Request.QueryString["form"] ?? "";
            string[][] actions;
            if (context.Request.HttpMethod != "POST" || !s_forms.TryGetValue(name, out actions))
            {
                context.Response.StatusCode = 404;
                sb.Append("no form ").Append(name);
                return;
            }
            var submit = new FormSubmitContext("submit") { FormId = Guid.NewGuid() };
            foreach (var key in context.Request.Form.AllKeys)
            {
                if (key == "Interests")
                    submit.Fields.Add(new ListFieldViewModel { Name = key, Value = context.Request.Form.GetValues(key).ToList() });
                else
                    submit.Fields.Add(new StringFieldViewModel { Name = key, Value = context.Request.Form[key] });
            }
            var list = new List<KeyValuePair<ISubmitAction, ISubmitActionData>>();
            foreach (var a in actions)
            {
                var data = new StubSubmitActionData { SubmitActionId = Guid.NewGuid(), Parameters = a[1] };
                var type = Type.GetType(s_submitActionTypes[a[0]], true);
                list.Add(new KeyValuePair<ISubmitAction, ISubmitActionData>((ISubmitAction)Activator.CreateInstance(type, (ISubmitActionData)data), data));
            }
            StubSubmitPipeline.Run(submit, list);
            sb.Append("form=").Append(submit.HasErrors ? "failed" : "ok").Append(" errors=").Append(submit.Errors.Count);
        }
    }

    /// <summary>
    /// TEST ONLY: conditional renderings as the stock personalization does them: for each rendering of the page's
    /// layout with rules, the first matching rule's actions run on a ConditionalRenderingsRuleContext; prints
    /// <c>rendering UID datasource=ITEM</c> per rendering (the data source item's name).
    /// </summary>
    internal static class TestPersonalization
    {
        internal static void Register(IEnumerable<SerializedItems.Item> items)
        {
            foreach (var item in items)
            {
                string type;
                if (item.Fields.TryGetValue("Type", out type)) RuleFactory.RegisterElement(item.Id, type);
            }
            RuleFactory.RegisterElement(StockTrue, "Sitecore.Rules.Conditions.TrueCondition`1, Sitecore.Kernel");
            RuleFactory.RegisterElement(StockSetDataSource, "Sitecore.Rules.ConditionalRenderings.SetDataSourceAction`1, Sitecore.Kernel");
        }

        internal const string StockTrue = "{4888ABBB-F17D-4485-B14B-842413F88732}";
        internal const string StockSetDataSource = "{AC3A42A2-FF5B-4F6A-AA3F-FE4B6F9AD8E0}";

        internal static void Render(global::Sitecore.Data.Items.Item item, StringBuilder sb)
        {
            var layout = item["__Renderings"];
            if (string.IsNullOrEmpty(layout)) return;
            var doc = new XmlDocument();
            doc.LoadXml(layout);
            var references = new List<RenderingReference>();
            var rules = new List<XmlElement>();
            foreach (XmlElement r in doc.SelectNodes("/r/d/r"))
            {
                references.Add(new RenderingReference(r.GetAttribute("uid"), r.GetAttribute("ds")));
                rules.Add(r.SelectSingleNode("rls/ruleset") as XmlElement);
            }
            for (int i = 0; i < references.Count; i++)
            {
                var reference = references[i];
                if (rules[i] != null)
                {
                    var list = RuleFactory.ParseRules<ConditionalRenderingsRuleContext>(global::Sitecore.Context.Database, rules[i].OuterXml);
                    list.RunFirstMatching(new ConditionalRenderingsRuleContext(references, reference) { Item = item });
                }
                var ds = StubContent.FindByPathOrId(reference.Settings.DataSource);
                sb.Append("\nrendering ").Append(reference.RenderingID).Append(" datasource=").Append(ds != null ? ds.Name : "(" + reference.Settings.DataSource + ")");
            }
            // Which decisions the rules were served, and whether each answer was the one started at request begin.
            var cdp = XmCdp.Sitecore.CdpContext.Current;
            if (cdp != null)
                foreach (var r in cdp.Served)
                    sb.Append("\nserved ").Append(r.FriendlyId).Append(' ').Append(r.Outcome).Append(" prefetched=").Append(r.Prefetched ? "yes" : "no");
        }
    }
}
