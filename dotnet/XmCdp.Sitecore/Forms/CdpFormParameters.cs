using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;
using Sitecore.ExperienceForms.Models;
using Sitecore.ExperienceForms.Processing;

namespace XmCdp.Sitecore.Forms
{
    /// <summary>
    /// The JSON parameters the Forms designer saved for one XmCdp submit action, parsed without throwing: a bad value
    /// becomes <see cref="Error"/>, which the action writes to the Forms log instead of sending anything.
    /// </summary>
    public sealed class CdpFormParameters
    {
        private static readonly Regex DataKey = new Regex("^[A-Za-z_][A-Za-z0-9_]{0,63}$", RegexOptions.CultureInvariant);
        private readonly Dictionary<string, object> _values;

        private CdpFormParameters(Dictionary<string, object> values, string error)
        {
            _values = values ?? new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            Error = error;
        }

        /// <summary>Why the parameters cannot be used (null when they can).</summary>
        public string Error { get; private set; }

        public static CdpFormParameters Parse(string json)
        {
            if (string.IsNullOrWhiteSpace(json)) return new CdpFormParameters(null, "no parameters were saved for this action");
            if (json.Length > 64 * 1024) return new CdpFormParameters(null, "the parameters are longer than 64 KB");
            var raw = CdpJson.Object(json);
            if (raw == null) return new CdpFormParameters(null, "the parameters are not a JSON object");
            return new CdpFormParameters(new Dictionary<string, object>(raw, StringComparer.OrdinalIgnoreCase), null);
        }

        /// <summary>A string parameter (null when absent); a non-string value is an error.</summary>
        public string Text(string name)
        {
            object v;
            if (!_values.TryGetValue(name, out v) || v == null) return null;
            var s = v as string;
            if (s == null) Fail("'" + name + "' must be a string");
            return string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        }

        public int Number(string name, int fallback, int min, int max)
        {
            object v;
            if (!_values.TryGetValue(name, out v) || v == null) return fallback;
            if (!(v is int) || (int)v < min || (int)v > max)
            {
                Fail("'" + name + "' must be a whole number from " + min + " to " + max);
                return fallback;
            }
            return (int)v;
        }

        /// <summary>
        /// A mapping "form field name → CDP key" (a JSON object). Each CDP key must be a plain identifier and each
        /// field must exist in the submitted form; otherwise the mapping is refused as a whole.
        /// </summary>
        public List<KeyValuePair<string, string>> Mapping(string name, CdpFormFields fields, bool required)
        {
            var result = new List<KeyValuePair<string, string>>();
            object v;
            if (!_values.TryGetValue(name, out v) || v == null)
            {
                if (required) Fail("'" + name + "' (form field name → CDP key) is required");
                return result;
            }
            var map = v as IDictionary<string, object>;
            if (map == null)
            {
                Fail("'" + name + "' must be an object of form field name → CDP key");
                return result;
            }
            if (map.Count > 50) Fail("'" + name + "' maps more than 50 fields (CDP accepts at most 50 attributes)");
            foreach (var kv in map)
            {
                var key = kv.Value as string;
                if (key == null || !DataKey.IsMatch(key))
                    Fail("'" + name + "': the CDP key for field '" + kv.Key + "' must be letters, digits and '_' (at most 64)");
                else if (!fields.Has(kv.Key))
                    Fail("'" + name + "': the form has no field named '" + kv.Key + "'");
                else
                    result.Add(new KeyValuePair<string, string>(kv.Key, key));
            }
            if (required && map.Count == 0) Fail("'" + name + "' maps no field");
            return result;
        }

        /// <summary>A form field name parameter: absent is fine unless required, but a name the form lacks is an error.</summary>
        public string FieldName(string name, CdpFormFields fields, bool required)
        {
            var field = Text(name);
            if (field == null)
            {
                if (required) Fail("'" + name + "' (a form field name) is required");
                return null;
            }
            if (!fields.Has(field)) Fail("'" + name + "': the form has no field named '" + field + "'");
            return field;
        }

        private void Fail(string message)
        {
            if (Error == null) Error = message;
        }
    }

    /// <summary>
    /// The submitted values by field name. Field view models live in Sitecore.ExperienceForms.Mvc and each carries a
    /// <c>Value</c> of its own type (string, List&lt;string&gt;, bool, double?, DateTime?), read here by reflection so
    /// custom field types work too.
    /// </summary>
    public sealed class CdpFormFields
    {
        private readonly Dictionary<string, string> _values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public CdpFormFields(FormSubmitContext context)
        {
            if (context?.Fields == null) return;
            foreach (var f in context.Fields)
            {
                if (f == null || string.IsNullOrEmpty(f.Name)) continue;
                _values[f.Name] = ValueOf(f);
            }
        }

        public bool Has(string name) => name != null && _values.ContainsKey(name);

        /// <summary>The field's value as text; null when the field is missing or empty.</summary>
        public string Get(string name)
        {
            string v;
            return name != null && _values.TryGetValue(name, out v) && !string.IsNullOrEmpty(v) ? v : null;
        }

        private static string ValueOf(IViewModel field)
        {
            var p = field.GetType().GetProperty("Value");
            if (p == null || p.GetIndexParameters().Length > 0) return null;
            object v;
            try
            {
                v = p.GetValue(field, null);
            }
            catch (Exception)
            {
                return null;
            }
            if (v == null) return null;
            if (v is string) return ((string)v).Trim();
            if (v is bool) return (bool)v ? "true" : "false";
            if (v is DateTime) return ((DateTime)v).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
            if (v is IFormattable) return ((IFormattable)v).ToString(null, CultureInfo.InvariantCulture);
            var list = v as IEnumerable;
            if (list != null)
            {
                var parts = new List<string>();
                foreach (var o in list) if (o != null) parts.Add(o.ToString());
                return string.Join(",", parts);
            }
            return v.ToString();
        }
    }
}
