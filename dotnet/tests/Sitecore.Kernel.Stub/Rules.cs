using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

// TEST-ONLY stand-in for the rules engine of Sitecore.Kernel (Sitecore.Rules.*, Sitecore.Layouts): the base classes
// conditions and actions derive from, and the conditional-renderings context. Stub-only members are marked.

namespace Sitecore.Rules
{
    public class RuleContext
    {
        public Sitecore.Data.Items.Item Item { get; set; }
        public bool Abort { get; set; }
        public bool IsTesting { get; set; }
    }

    public class RuleStack
    {
        private readonly Stack<object> _stack = new Stack<object>();
        public int Count => _stack.Count;
        public void Push(object value) => _stack.Push(value);
        public object Pop() => _stack.Pop();
    }

    public class Rule<T> where T : RuleContext
    {
        public Rule(Sitecore.Rules.Conditions.RuleCondition<T> condition, IList<Sitecore.Rules.Actions.RuleAction<T>> actions)
        {
            Condition = condition;
            Actions = new List<Sitecore.Rules.Actions.RuleAction<T>>(actions ?? new Sitecore.Rules.Actions.RuleAction<T>[0]);
        }

        public Sitecore.Rules.Conditions.RuleCondition<T> Condition { get; set; }
        public List<Sitecore.Rules.Actions.RuleAction<T>> Actions { get; }

        /// <summary>Like the real rule: evaluates the condition, then runs the actions when it holds.</summary>
        public bool Evaluate(T ruleContext)
        {
            if (Condition == null) return false;
            var stack = new RuleStack();
            Condition.Evaluate(ruleContext, stack);
            return stack.Count > 0 && (bool)stack.Pop();
        }

        public void Execute(T ruleContext)
        {
            foreach (var a in Actions) a.Apply(ruleContext);
        }
    }

    public class RuleList<T> where T : RuleContext
    {
        public List<Rule<T>> Rules { get; } = new List<Rule<T>>();

        /// <summary>Like the real RuleList.Run: every rule whose condition holds runs its actions.</summary>
        public void Run(T ruleContext) => Run(ruleContext, false);

        /// <summary>Conditional renderings: the first rule whose condition holds runs its actions.</summary>
        public void RunFirstMatching(T ruleContext) => Run(ruleContext, true);

        private void Run(T ruleContext, bool stopOnFirstMatching)
        {
            foreach (var rule in Rules)
            {
                if (ruleContext.Abort) return;
                if (!rule.Evaluate(ruleContext)) continue;
                rule.Execute(ruleContext);
                if (stopOnFirstMatching) return;
            }
        }
    }
}

namespace Sitecore.Rules.Conditions
{
    using Sitecore.Rules;

    public abstract class RuleCondition<T> where T : RuleContext
    {
        public string UniqueId { get; set; }
        public abstract void Evaluate(T ruleContext, RuleStack stack);
    }

    public abstract class WhenCondition<T> : RuleCondition<T> where T : RuleContext
    {
        public override void Evaluate(T ruleContext, RuleStack stack)
        {
            stack.Push(Execute(ruleContext));
        }

        protected abstract bool Execute(T ruleContext);
    }

    public enum ConditionOperator { Unknown, Equal, GreaterThanOrEqual, GreaterThan, LessThanOrEqual, LessThan, NotEqual }

    public enum StringConditionOperator
    {
        Unknown, Equals, CaseInsensitivelyEquals, NotEqual, NotCaseInsensitivelyEquals, Contains, MatchesRegularExpression, StartsWith, EndsWith,
    }

    public abstract class OperatorCondition<T> : WhenCondition<T> where T : RuleContext
    {
        public string OperatorId { get; set; }

        protected ConditionOperator GetOperator()
        {
            ConditionOperator op;
            return StubOperators.Numeric.TryGetValue(OperatorId ?? "", out op) ? op : ConditionOperator.Unknown;
        }
    }

    public abstract class StringOperatorCondition<T> : WhenCondition<T> where T : RuleContext
    {
        public string OperatorId { get; set; }

        protected StringConditionOperator GetOperator()
        {
            StringConditionOperator op;
            return StubOperators.Text.TryGetValue(OperatorId ?? "", out op) ? op : StringConditionOperator.Unknown;
        }

        protected bool Compare(string value0, string value1)
        {
            if (value0 == null || value1 == null) return false;
            switch (GetOperator())
            {
                case StringConditionOperator.Equals: return value0 == value1;
                case StringConditionOperator.CaseInsensitivelyEquals: return string.Equals(value0, value1, StringComparison.OrdinalIgnoreCase);
                case StringConditionOperator.NotEqual: return value0 != value1;
                case StringConditionOperator.NotCaseInsensitivelyEquals: return !string.Equals(value0, value1, StringComparison.OrdinalIgnoreCase);
                case StringConditionOperator.Contains: return value0.IndexOf(value1, StringComparison.Ordinal) >= 0;
                case StringConditionOperator.MatchesRegularExpression: return Regex.IsMatch(value0, value1);
                case StringConditionOperator.StartsWith: return value0.StartsWith(value1, StringComparison.Ordinal);
                case StringConditionOperator.EndsWith: return value0.EndsWith(value1, StringComparison.Ordinal);
                default: return false;
            }
        }
    }

    // stub-only: the operator items of /sitecore/system/Settings/Rules/Definitions/String Operators and Operators.
    public static class StubOperators
    {
        public const string StringEquals = "{10537C58-1684-4CAB-B4C0-40C10907CE31}";
        public const string StringCaseInsensitivelyEquals = "{537244C2-3A3F-4B81-A6ED-02AF494C0563}";
        public const string StringNotEqual = "{A6AC5A6B-F409-48B0-ACE7-C3E8C5EC6406}";
        public const string StringContains = "{2E67477C-440C-4BCA-A358-3D29AED89F47}";
        public const string StringStartsWith = "{22E1F05F-A17A-4D0C-B376-6F7661500F03}";
        public const string StringEndsWith = "{F8641C26-EE27-483C-9FEA-35529ECC8541}";
        public const string Equal = "{066602E2-ED1D-44C2-A698-7ED27FD3A2CC}";

        internal static readonly Dictionary<string, StringConditionOperator> Text = new Dictionary<string, StringConditionOperator>(StringComparer.OrdinalIgnoreCase)
        {
            { StringEquals, StringConditionOperator.Equals },
            { StringCaseInsensitivelyEquals, StringConditionOperator.CaseInsensitivelyEquals },
            { StringNotEqual, StringConditionOperator.NotEqual },
            { StringContains, StringConditionOperator.Contains },
            { StringStartsWith, StringConditionOperator.StartsWith },
            { StringEndsWith, StringConditionOperator.EndsWith },
        };

        internal static readonly Dictionary<string, ConditionOperator> Numeric = new Dictionary<string, ConditionOperator>(StringComparer.OrdinalIgnoreCase)
        {
            { Equal, ConditionOperator.Equal },
        };
    }
}

namespace Sitecore.Rules.Actions
{
    using Sitecore.Rules;

    public abstract class RuleAction<T> where T : RuleContext
    {
        public string UniqueId { get; set; }
        public abstract void Apply(T ruleContext);
    }
}

namespace Sitecore.Layouts
{
    public class RenderingSettings
    {
        public string DataSource { get; set; }
        public string Parameters { get; set; }
        public string Placeholder { get; set; }
    }

    public class RenderingReference
    {
        // stub-only constructor: real references come from the item's layout.
        public RenderingReference(string renderingId, string dataSource)
        {
            RenderingID = renderingId;
            Settings = new RenderingSettings { DataSource = dataSource };
        }

        public string RenderingID { get; private set; }
        public RenderingSettings Settings { get; set; }
    }
}

namespace Sitecore.Rules.ConditionalRenderings
{
    using System.Collections.Generic;
    using Sitecore.Layouts;

    public class ConditionalRenderingsRuleContext : Sitecore.Rules.RuleContext
    {
        public ConditionalRenderingsRuleContext(List<RenderingReference> references, RenderingReference reference)
        {
            References = references;
            Reference = reference;
        }

        public List<RenderingReference> References { get; private set; }
        public RenderingReference Reference { get; set; }
    }
}

namespace Sitecore.Rules
{
    using System.Xml;
    using Sitecore.Rules.Actions;
    using Sitecore.Rules.Conditions;

    /// <summary>
    /// Builds rules from rule XML as the real factory does: each <c>condition</c>/<c>action</c> element names its
    /// definition item by <c>id</c>; that item's <c>Type</c> is instantiated (generic definitions closed over the rule
    /// context) and every other attribute is set on the property of the same name (case-insensitive).
    /// <c>and</c>/<c>or</c> nest, <c>except="true"</c> negates.
    /// </summary>
    public static class RuleFactory
    {
        private static readonly Dictionary<string, string> s_types = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        // stub-only: the real factory reads the Type field of the definition item from the database.
        public static void RegisterElement(string itemId, string typeName)
        {
            lock (s_types) s_types[Normalize(itemId)] = typeName;
        }

        public static RuleList<T> ParseRules<T>(Sitecore.Data.Database database, string rulesXml) where T : RuleContext
        {
            var list = new RuleList<T>();
            if (string.IsNullOrEmpty(rulesXml)) return list;
            var doc = new XmlDocument();
            doc.LoadXml(rulesXml);
            foreach (XmlElement rule in doc.GetElementsByTagName("rule"))
            {
                RuleCondition<T> condition = null;
                var actions = new List<RuleAction<T>>();
                foreach (XmlNode child in rule.ChildNodes)
                {
                    var e = child as XmlElement;
                    if (e == null) continue;
                    if (e.Name == "conditions")
                    {
                        foreach (XmlNode c in e.ChildNodes)
                            if (c is XmlElement) condition = Condition<T>((XmlElement)c);
                    }
                    else if (e.Name == "actions")
                    {
                        foreach (XmlNode a in e.ChildNodes)
                            if (a is XmlElement) actions.Add(Create<RuleAction<T>, T>((XmlElement)a));
                    }
                }
                list.Rules.Add(new Rule<T>(condition, actions));
            }
            return list;
        }

        private static RuleCondition<T> Condition<T>(XmlElement e) where T : RuleContext
        {
            RuleCondition<T> result;
            if (e.Name == "and" || e.Name == "or")
            {
                var parts = new List<RuleCondition<T>>();
                foreach (XmlNode c in e.ChildNodes) if (c is XmlElement) parts.Add(Condition<T>((XmlElement)c));
                result = new Junction<T>(e.Name == "and", parts);
            }
            else
            {
                result = Create<RuleCondition<T>, T>(e);
            }
            return e.GetAttribute("except") == "true" ? new Not<T>(result) : result;
        }

        private static TBase Create<TBase, T>(XmlElement e) where T : RuleContext
        {
            string typeName;
            lock (s_types)
                if (!s_types.TryGetValue(Normalize(e.GetAttribute("id")), out typeName))
                    throw new InvalidOperationException("no rule element item " + e.GetAttribute("id"));
            var type = Type.GetType(typeName, true);
            if (type.IsGenericTypeDefinition) type = type.MakeGenericType(typeof(T));
            var instance = (TBase)Activator.CreateInstance(type);
            foreach (XmlAttribute a in e.Attributes)
            {
                if (a.Name == "id" || a.Name == "except") continue;
                var name = a.Name == "uid" ? "UniqueId" : a.Name;
                var p = type.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
                if (p != null && p.CanWrite && p.PropertyType == typeof(string)) p.SetValue(instance, a.Value, null);
            }
            return instance;
        }

        private static string Normalize(string id) => (id ?? "").Trim().Trim('{', '}');

        private sealed class Junction<T> : RuleCondition<T> where T : RuleContext
        {
            private readonly bool _all;
            private readonly List<RuleCondition<T>> _parts;

            public Junction(bool all, List<RuleCondition<T>> parts)
            {
                _all = all;
                _parts = parts;
            }

            public override void Evaluate(T ruleContext, RuleStack stack)
            {
                foreach (var p in _parts)
                {
                    p.Evaluate(ruleContext, stack);
                    var v = (bool)stack.Pop();
                    if (v != _all)
                    {
                        stack.Push(v);
                        return;
                    }
                }
                stack.Push(_all);
            }
        }

        private sealed class Not<T> : RuleCondition<T> where T : RuleContext
        {
            private readonly RuleCondition<T> _inner;
            public Not(RuleCondition<T> inner) { _inner = inner; }

            public override void Evaluate(T ruleContext, RuleStack stack)
            {
                _inner.Evaluate(ruleContext, stack);
                stack.Push(!(bool)stack.Pop());
            }
        }
    }
}

namespace Sitecore.Rules.Conditions
{
    /// <summary>The stock "where true (actions always execute)" condition of a ruleset's default rule.</summary>
    public class TrueCondition<T> : RuleCondition<T> where T : Sitecore.Rules.RuleContext
    {
        public override void Evaluate(T ruleContext, Sitecore.Rules.RuleStack stack) => stack.Push(true);
    }
}

namespace Sitecore.Rules.ConditionalRenderings
{
    /// <summary>The stock "set data source to [item]" action of conditional renderings.</summary>
    public class SetDataSourceAction<T> : Sitecore.Rules.Actions.RuleAction<T> where T : ConditionalRenderingsRuleContext
    {
        public string DataSource { get; set; }

        public override void Apply(T ruleContext)
        {
            ruleContext.Reference.Settings.DataSource = DataSource;
        }
    }
}
