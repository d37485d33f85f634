using System;
using System.Collections.Generic;
using System.Globalization;
using XmCdp.Events;
using XmCdp.Json;

namespace XmCdp.Guests
{
    /// <summary>
    /// A guest's attributes for the Guest REST API (v2.1), written with CDP's REST spellings: for a registration
    /// (<see cref="CdpGuests.Create"/>: <see cref="GuestType"/> required, plus data extensions filled through
    /// <see cref="Extension"/>), a partial update (<see cref="CdpGuests.Update"/>: only the attributes set are sent;
    /// <see cref="Clear"/> removes one) or a replacement. Attributes left null are not sent. The native side checks
    /// every value (e-mail, ISO dates, ISO 3166 country, identifiers) before any request.
    /// </summary>
    public sealed class CdpGuestProfile
    {
        private readonly List<string> _cleared = new List<string>();
        private readonly List<KeyValuePair<string, CdpExtensionData>> _extensions = new List<KeyValuePair<string, CdpExtensionData>>();

        /// <summary>"visitor", "customer" or "traveller" (see <see cref="CdpGuestTypes"/>).</summary>
        public string GuestType { get; set; }
        public string Title { get; set; }
        public string FirstName { get; set; }
        public string LastName { get; set; }
        public string Gender { get; set; }
        public string Email { get; set; }
        /// <summary>Must be in the past; sent as an ISO 8601 date-time (UTC midnight of the date).</summary>
        public DateTime? DateOfBirth { get; set; }
        public string Nationality { get; set; }
        public string City { get; set; }
        public string State { get; set; }
        /// <summary>ISO 3166-1 alpha-2, upper case ("IE").</summary>
        public string Country { get; set; }
        public string PostCode { get; set; }
        public string Language { get; set; }
        public IList<string> Emails { get; } = new List<string>();
        public IList<string> PhoneNumbers { get; } = new List<string>();
        public IList<string> Street { get; } = new List<string>();
        /// <summary>Identifiers such as ("email", address) or your CRM's id; an expiry date is ISO 8601.</summary>
        public IList<CdpIdentifier> Identifiers { get; } = new List<CdpIdentifier>();

        /// <summary>Removes attribute <paramref name="attribute"/> (REST spelling, e.g. "city") in a partial update.</summary>
        public CdpGuestProfile Clear(string attribute)
        {
            if (string.IsNullOrEmpty(attribute)) throw new ArgumentException("An attribute name is required.", nameof(attribute));
            if (!_cleared.Contains(attribute)) _cleared.Add(attribute);
            return this;
        }

        /// <summary>
        /// The key/values of data extension <paramref name="name"/> ("ext", "ext1" … "ext5") created with the guest
        /// by <see cref="CdpGuests.Create"/>: <c>profile.Extension("ext").Set("loyaltyTier", "gold")</c>.
        /// </summary>
        public CdpExtensionData Extension(string name)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("An extension name is required.", nameof(name));
            foreach (var kv in _extensions)
                if (string.Equals(kv.Key, name, StringComparison.Ordinal)) return kv.Value;
            var data = new CdpExtensionData();
            _extensions.Add(new KeyValuePair<string, CdpExtensionData>(name, data));
            return data;
        }

        internal bool HasExtensions => _extensions.Count > 0;

        /// <summary>The guest body: set attributes, then cleared ones as null.</summary>
        internal string ToJson()
        {
            var w = new JsonWriter().StartObject();
            Text(w, "guestType", GuestType);
            Text(w, "title", Title);
            Text(w, "firstName", FirstName);
            Text(w, "lastName", LastName);
            Text(w, "gender", Gender);
            Text(w, "email", Email);
            if (DateOfBirth.HasValue)
                w.Property("dateOfBirth", DateOfBirth.Value.Date.ToString("yyyy-MM-dd'T'00:00:00.000'Z'", CultureInfo.InvariantCulture));
            Text(w, "nationality", Nationality);
            Text(w, "city", City);
            Text(w, "state", State);
            Text(w, "country", Country);
            Text(w, "postCode", PostCode);
            Text(w, "language", Language);
            List(w, "emails", Emails);
            List(w, "phoneNumbers", PhoneNumbers);
            List(w, "street", Street);
            if (Identifiers.Count > 0)
            {
                w.Name("identifiers").StartArray();
                foreach (var id in Identifiers)
                {
                    if (id == null) throw new ArgumentException("Identifiers holds a null entry.");
                    w.StartObject().Property("provider", id.Provider).Property("id", id.Id);
                    if (!string.IsNullOrEmpty(id.ExpiryDate)) w.Property("expiryDate", id.ExpiryDate);
                    w.EndObject();
                }
                w.EndArray();
            }
            foreach (var name in _cleared) w.Name(name).Null();
            return w.EndObject().ToString();
        }

        /// <summary><c>{"ext": {...}, ...}</c>, or null when no extension was filled.</summary>
        internal string ExtensionsJsonOrNull()
        {
            if (_extensions.Count == 0) return null;
            var w = new JsonWriter().StartObject();
            foreach (var kv in _extensions) w.Name(kv.Key).RawValue(kv.Value.ToJsonOrNull() ?? "{}");
            return w.EndObject().ToString();
        }

        private static void Text(JsonWriter w, string name, string value)
        {
            if (value != null) w.Property(name, value);
        }

        private static void List(JsonWriter w, string name, IList<string> values)
        {
            if (values.Count == 0) return;
            w.Name(name).StartArray();
            foreach (var v in values) w.String(v ?? throw new ArgumentException(name + " holds a null entry."));
            w.EndArray();
        }
    }

    /// <summary>The guest types of Guest REST v2.1.</summary>
    public static class CdpGuestTypes
    {
        public const string Visitor = "visitor";
        public const string Customer = "customer";
        public const string Traveller = "traveller";
    }
}
