using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Xml;

namespace Sitecore.Configuration
{
    /// <summary>
    /// stub-only: replays what Sitecore's configuration factory does with a patch file, closely enough to prove
    /// that the shipped XmCdp.config builds the intended pipelines: include files are merged into a base
    /// <c>&lt;sitecore&gt;</c> document (<c>patch:after</c>, <c>patch:before</c>, <c>patch:instead</c>,
    /// <c>patch:delete</c>, <c>role:require</c>), then processors are instantiated by assembly-qualified type name
    /// and configured from child elements (public properties, <c>hint="list:Method"</c>, <c>hint="raw:Method"</c>).
    /// Unknown child elements fail loudly so a typo in the shipped config fails a test.
    /// </summary>
    public sealed class ConfigReplay
    {
        public const string PatchNs = "http://www.sitecore.net/xmlconfig/";
        public const string RoleNs = "http://www.sitecore.net/xmlconfig/role/";

        private readonly XmlDocument _doc;
        private readonly HashSet<string> _roles;

        public ConfigReplay(string baseSitecoreXml, IEnumerable<string> roles)
        {
            _doc = new XmlDocument();
            _doc.LoadXml(baseSitecoreXml);
            if (_doc.DocumentElement.LocalName != "sitecore")
                throw new ArgumentException("The base config must have <sitecore> as its root.");
            _roles = new HashSet<string>(roles, StringComparer.OrdinalIgnoreCase);
        }

        public XmlElement Sitecore => _doc.DocumentElement;

        /// <summary>Merges an include file (<c>&lt;configuration&gt;&lt;sitecore&gt;…</c>).</summary>
        public void ApplyIncludeFile(string path)
        {
            var include = new XmlDocument();
            include.Load(path);
            var sc = include.DocumentElement.ChildNodes.OfType<XmlElement>().FirstOrDefault(e => e.LocalName == "sitecore");
            if (sc == null) throw new InvalidOperationException(path + " has no <sitecore> element.");
            if (!RoleAllows(sc)) return;
            Merge(Sitecore, sc);
        }

        /// <summary>Pushes <c>&lt;settings&gt;&lt;setting name value/&gt;</c> into <see cref="Settings"/>.</summary>
        public void ApplySettings()
        {
            foreach (XmlElement s in Sitecore.SelectNodes("settings/setting"))
                Settings.Set(s.GetAttribute("name"), s.GetAttribute("value"));
        }

        public string OuterXml => _doc.OuterXml;

        public Pipeline BuildPipeline(string name)
        {
            var node = Sitecore.SelectSingleNode("pipelines/" + name);
            if (node == null) throw new InvalidOperationException("No pipeline " + name);
            node = ExpandVariables(node.CloneNode(true));
            var steps = new List<Pipeline.Step>();
            foreach (XmlElement p in node.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == "processor"))
            {
                var typeName = p.GetAttribute("type");
                var type = Type.GetType(typeName, throwOnError: true);
                var instance = Activator.CreateInstance(type);
                foreach (XmlElement child in p.ChildNodes.OfType<XmlElement>()) Configure(instance, child);
                var methodName = p.HasAttribute("method") ? p.GetAttribute("method") : "Process";
                var method = type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
                    .FirstOrDefault(m => m.Name == methodName && m.GetParameters().Length == 1);
                if (method == null) throw new InvalidOperationException(typeName + " has no " + methodName + "(args)");
                steps.Add(new Pipeline.Step(typeName, instance, method));
            }
            return new Pipeline(name, steps);
        }

        /// <summary>Like Sitecore's config reader: <c>$(name)</c> of every <c>&lt;sc.variable&gt;</c> in attributes and text.</summary>
        private XmlNode ExpandVariables(XmlNode node)
        {
            var vars = Sitecore.SelectNodes("sc.variable").OfType<XmlElement>().ToList();
            if (vars.Count == 0) return node;
            Func<string, string> expand = text =>
            {
                foreach (var v in vars) text = text.Replace("$(" + v.GetAttribute("name") + ")", v.GetAttribute("value"));
                return text;
            };
            foreach (XmlNode n in node.SelectNodes("descendant-or-self::node()"))
            {
                if (n.Attributes != null) foreach (XmlAttribute a in n.Attributes) a.Value = expand(a.Value);
                if (n.NodeType == XmlNodeType.Text) n.Value = expand(n.Value);
            }
            return node;
        }

        private static void Configure(object instance, XmlElement child)
        {
            var type = instance.GetType();
            var hint = child.GetAttribute("hint");
            if (hint.StartsWith("list:", StringComparison.Ordinal) || hint.StartsWith("raw:", StringComparison.Ordinal))
            {
                bool raw = hint.StartsWith("raw:", StringComparison.Ordinal);
                var method = type.GetMethod(hint.Substring(raw ? 4 : 5), BindingFlags.Public | BindingFlags.Instance);
                if (method == null) throw new InvalidOperationException(type.FullName + " has no method for hint " + hint);
                foreach (XmlElement item in child.ChildNodes.OfType<XmlElement>())
                    method.Invoke(instance, new object[] { raw ? (object)item : item.InnerText.Trim() });
                return;
            }
            var prop = type.GetProperty(child.LocalName, BindingFlags.Public | BindingFlags.Instance)
                ?? type.GetProperty(child.LocalName, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (prop == null || !prop.CanWrite)
                throw new InvalidOperationException(type.FullName + " has no settable property " + child.LocalName);
            var converter = TypeDescriptor.GetConverter(prop.PropertyType);
            prop.SetValue(instance, converter.ConvertFromString(null, CultureInfo.InvariantCulture, child.InnerText.Trim()));
        }

        private void Merge(XmlElement target, XmlElement patch)
        {
            foreach (XmlElement c in patch.ChildNodes.OfType<XmlElement>().ToList())
            {
                if (!RoleAllows(c)) continue;
                var instead = c.GetAttribute("instead", PatchNs);
                if (c.LocalName == "delete" && c.NamespaceURI == PatchNs)
                {
                    target.ParentNode.RemoveChild(target);
                    return;
                }
                if (instead.Length > 0)
                {
                    var victim = target.SelectSingleNode(instead);
                    var copy = Copy(c);
                    if (victim != null) target.ReplaceChild(copy, victim); else target.AppendChild(copy);
                    continue;
                }
                var match = FindMatch(target, c);
                if (match != null)
                {
                    foreach (XmlElement a in c.ChildNodes.OfType<XmlElement>()
                        .Where(e => e.NamespaceURI == PatchNs && e.LocalName == "attribute").ToList())
                        match.SetAttribute(a.GetAttribute("name"), a.GetAttribute("value").Length > 0 ? a.GetAttribute("value") : a.InnerText);
                    // As on the host, a patch element with only text replaces the setting's value.
                    if (!c.ChildNodes.OfType<XmlElement>().Any() && c.ChildNodes.OfType<XmlText>().Any())
                        match.InnerText = c.InnerText;
                    Merge(match, c);
                    continue;
                }
                var node = Copy(c);
                var after = c.GetAttribute("after", PatchNs);
                var before = c.GetAttribute("before", PatchNs);
                if (after.Length > 0)
                {
                    var anchor = target.SelectSingleNode(after)
                        ?? throw new InvalidOperationException("patch:after matched nothing: " + after);
                    target.InsertAfter(node, anchor);
                }
                else if (before.Length > 0)
                {
                    var anchor = target.SelectSingleNode(before)
                        ?? throw new InvalidOperationException("patch:before matched nothing: " + before);
                    target.InsertBefore(node, anchor);
                }
                else
                {
                    target.AppendChild(node);
                }
            }
        }

        /// <summary>An existing element with the same name and the same plain (non-namespaced) attributes.</summary>
        private static XmlElement FindMatch(XmlElement target, XmlElement c)
        {
            var attrs = c.Attributes.OfType<XmlAttribute>().Where(a => a.NamespaceURI.Length == 0).ToList();
            foreach (XmlElement e in target.ChildNodes.OfType<XmlElement>())
            {
                if (e.LocalName != c.LocalName || e.NamespaceURI != c.NamespaceURI) continue;
                if (attrs.All(a => e.GetAttribute(a.Name) == a.Value)) return e;
            }
            return null;
        }

        /// <summary>Imports an element without patch/role attributes, applying role:require to its descendants.</summary>
        private XmlElement Copy(XmlElement c)
        {
            var e = _doc.CreateElement(c.LocalName);
            foreach (XmlAttribute a in c.Attributes)
            {
                if (a.NamespaceURI == PatchNs || a.NamespaceURI == RoleNs || a.Prefix == "xmlns" || a.Name == "xmlns") continue;
                e.SetAttribute(a.LocalName, a.Value);
            }
            foreach (XmlNode n in c.ChildNodes)
            {
                if (n is XmlElement ce)
                {
                    if (RoleAllows(ce)) e.AppendChild(Copy(ce));
                }
                else if (n is XmlText || n is XmlCDataSection)
                {
                    e.AppendChild(_doc.CreateTextNode(n.Value));
                }
            }
            return e;
        }

        private bool RoleAllows(XmlElement e)
        {
            var expr = e.GetAttribute("require", RoleNs);
            return expr.Length == 0 || new RoleExpression(expr, _roles).Evaluate();
        }

        /// <summary><c>A or B</c>, <c>A and !B</c>, parentheses; <c>and</c> binds tighter than <c>or</c>.</summary>
        private sealed class RoleExpression
        {
            private readonly List<string> _tokens = new List<string>();
            private readonly HashSet<string> _roles;
            private int _pos;

            public RoleExpression(string text, HashSet<string> roles)
            {
                _roles = roles;
                var cur = "";
                foreach (var ch in text)
                {
                    if (char.IsWhiteSpace(ch) || ch == '(' || ch == ')' || ch == '!')
                    {
                        if (cur.Length > 0) _tokens.Add(cur);
                        cur = "";
                        if (!char.IsWhiteSpace(ch)) _tokens.Add(ch.ToString());
                    }
                    else cur += ch;
                }
                if (cur.Length > 0) _tokens.Add(cur);
            }

            public bool Evaluate()
            {
                var r = Or();
                if (_pos != _tokens.Count) throw new FormatException("Bad role expression.");
                return r;
            }

            private bool Or()
            {
                var v = And();
                while (_pos < _tokens.Count && _tokens[_pos].Equals("or", StringComparison.OrdinalIgnoreCase)) { _pos++; v = And() | v; }
                return v;
            }

            private bool And()
            {
                var v = Not();
                while (_pos < _tokens.Count && _tokens[_pos].Equals("and", StringComparison.OrdinalIgnoreCase)) { _pos++; v = Not() & v; }
                return v;
            }

            private bool Not()
            {
                if (_tokens[_pos] == "!") { _pos++; return !Not(); }
                if (_tokens[_pos] == "(") { _pos++; var v = Or(); _pos++; return v; }
                return _roles.Contains(_tokens[_pos++]);
            }
        }
    }

    /// <summary>stub-only: an ordered list of configured processors, run like CorePipeline.Run.</summary>
    public sealed class Pipeline
    {
        internal Pipeline(string name, IList<Step> steps)
        {
            Name = name;
            Steps = steps;
        }

        public string Name { get; private set; }
        public IList<Step> Steps { get; private set; }

        public void Run(Sitecore.Pipelines.PipelineArgs args)
        {
            foreach (var step in Steps)
            {
                try
                {
                    step.Method.Invoke(step.Instance, new object[] { args });
                }
                catch (TargetInvocationException e)
                {
                    // Surface the processor's own exception, as Sitecore does.
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                }
                if (args.Aborted) return;
            }
        }

        public sealed class Step
        {
            internal Step(string typeName, object instance, MethodInfo method)
            {
                TypeName = typeName;
                Instance = instance;
                Method = method;
            }

            public string TypeName { get; private set; }
            public object Instance { get; private set; }
            public MethodInfo Method { get; private set; }
        }
    }
}
