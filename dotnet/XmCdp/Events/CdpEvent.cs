using System;
using System.Collections.Generic;

namespace XmCdp.Events
{
    /// <summary>
    /// Fields every event carries. Null means "absent": the native client then uses its configured default
    /// (channel, currency, point of sale) or leaves the key out, as the official server-side SDK does.
    /// </summary>
    public abstract class CdpEvent
    {
        private CdpExtensionData _ext;

        /// <summary>The visitor's CDP browser id (the <c>bid_{clientKey}</c> cookie value). Required.</summary>
        public string BrowserId { get; set; }
        public string Channel { get; set; }
        public string Currency { get; set; }
        /// <summary>Upper-case ISO 639-1 code, e.g. <c>EN</c>.</summary>
        public string Language { get; set; }
        public string Page { get; set; }
        public string PointOfSale { get; set; }
        /// <summary>The visitor's User-Agent, forwarded so CDP attributes the device to the visitor, not the server.</summary>
        public string UserAgent { get; set; }

        /// <summary>The event's <c>ext</c> attributes (created on first use).</summary>
        public CdpExtensionData Ext => _ext ?? (_ext = new CdpExtensionData());

        internal string ExtJsonOrNull() => _ext?.ToJsonOrNull();
    }

    /// <summary>A VIEW event. UTM parameters are taken from <see cref="Url"/> by the native side.</summary>
    public sealed class PageView : CdpEvent
    {
        /// <summary>The requested URL (path and query); only its <c>utm_*</c> parameters are sent.</summary>
        public string Url { get; set; }
        public string Referrer { get; set; }
        /// <summary>The experiment or personalization variant that was served (<c>ext.pageVariantId</c>).</summary>
        public string PageVariantId { get; set; }
        /// <summary>Copy <c>utm_*</c> query parameters of <see cref="Url"/> onto the event (the official SDK's default).</summary>
        public bool IncludeUtm { get; set; } = true;
    }

    /// <summary>A custom event (ADD, CHECKOUT, SEARCH, FORM, your own type): data keys go to the top level.</summary>
    public sealed class CustomEvent : CdpEvent
    {
        private CdpExtensionData _data;

        public CustomEvent(string type)
        {
            if (string.IsNullOrEmpty(type)) throw new ArgumentException("An event type is required.", nameof(type));
            Type = type;
        }

        public string Type { get; }

        /// <summary>Top-level event attributes besides the base fields.</summary>
        public CdpExtensionData Data => _data ?? (_data = new CdpExtensionData());

        /// <summary>
        /// A raw JSON object of top-level attributes, for nested values <see cref="Data"/> cannot express (e.g.
        /// <c>{"product":{"item_id":"SKU-1","quantity":1,...}}</c> of an ADD). Used instead of <see cref="Data"/> when
        /// set; validated natively (InvalidField, TooLarge).
        /// </summary>
        public string DataJson { get; set; }

        internal string DataJsonOrNull() => DataJson ?? _data?.ToJsonOrNull();
    }

    /// <summary>One identifier of an IDENTITY event, e.g. provider <c>email</c>.</summary>
    public sealed class CdpIdentifier
    {
        public CdpIdentifier(string provider, string id)
        {
            if (string.IsNullOrEmpty(provider)) throw new ArgumentException("A provider is required.", nameof(provider));
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("An id is required.", nameof(id));
            Provider = provider;
            Id = id;
        }

        public string Provider { get; }
        public string Id { get; }
        /// <summary>Optional, CDP format <c>yyyy-MM-ddTHH:mm</c>.</summary>
        public string ExpiryDate { get; set; }
    }

    /// <summary>An IDENTITY event: links the browser to a known guest. Needs at least one identifier.</summary>
    public sealed class IdentityEvent : CdpEvent
    {
        public List<CdpIdentifier> Identifiers { get; } = new List<CdpIdentifier>();
        public string Email { get; set; }
        public string FirstName { get; set; }
        public string LastName { get; set; }
        public string Title { get; set; }
        public string Gender { get; set; }
        public string DateOfBirth { get; set; }
        public string Mobile { get; set; }
        public string Phone { get; set; }
        public List<string> Street { get; } = new List<string>();
        public string City { get; set; }
        public string State { get; set; }
        public string Country { get; set; }
        public string PostalCode { get; set; }
    }
}
