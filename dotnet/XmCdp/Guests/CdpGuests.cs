using System;
using XmCdp.Events;
using XmCdp.Native;

namespace XmCdp.Guests
{
    /// <summary>
    /// The authenticated Guest REST API (v2.1) of one client: guest lookup and data extensions. Every call blocks
    /// for at most its budget (<see cref="TimeSpan.Zero"/> = guestApiTimeoutMs) and returns CDP's JSON answer; a
    /// failure throws <see cref="XmCdpException"/> whose <see cref="XmCdpException.Status"/> says why (NotFound,
    /// Unauthorized, InvalidArgument, ServerError, Timeout, MissingSetting when no API token is configured...).
    /// Not for the rendering path: use it from forms, controllers and scheduled jobs.
    /// </summary>
    public sealed class CdpGuests
    {
        private readonly CdpClient _client;

        internal CdpGuests(CdpClient client)
        {
            _client = client;
        }

        /// <summary>Guests with this e-mail address (a search collection; each item's href ends with the guest ref).</summary>
        public string FindByEmail(string email, TimeSpan budget = default(TimeSpan))
        {
            Require(email, nameof(email));
            return Call("finding guests", new[] { email, null, null }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_find(c, s[0], s[1], s[2], ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        /// <summary>Guests with this identifier (e.g. provider "email", or your own provider name).</summary>
        public string FindByIdentifier(string provider, string id, TimeSpan budget = default(TimeSpan))
        {
            Require(provider, nameof(provider));
            Require(id, nameof(id));
            return Call("finding guests", new[] { null, provider, id }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_find(c, s[0], s[1], s[2], ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        /// <summary>One guest; <paramref name="expand"/> includes its data extensions.</summary>
        public string Get(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            byte e = expand ? (byte)1 : (byte)0;
            return Call("reading a guest", new[] { guestRef }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_get(c, s[0], e, ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        /// <summary>Creates data extension <paramref name="name"/> ("ext", "ext1" … "ext5") from flat key/values.</summary>
        public string CreateExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return WithData("creating a guest data extension", guestRef, name, data, budget, Interop.xmcdp_client_guest_extension_create);
        }

        /// <summary>Replaces every key/value of data extension <paramref name="name"/>.</summary>
        public string PutExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return WithData("replacing a guest data extension", guestRef, name, data, budget, Interop.xmcdp_client_guest_extension_put);
        }

        /// <summary>Updates only the given keys of data extension <paramref name="name"/>.</summary>
        public string PatchExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return WithData("updating a guest data extension", guestRef, name, data, budget, Interop.xmcdp_client_guest_extension_patch);
        }

        public string GetExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            return Call("reading a guest data extension", new[] { guestRef, name }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_extension_get(c, s[0], s[1], ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        /// <summary>The guest's data extensions; <paramref name="expand"/> includes their key/values.</summary>
        public string ListExtensions(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            byte e = expand ? (byte)1 : (byte)0;
            return Call("listing guest data extensions", new[] { guestRef }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_extension_list(c, s[0], e, ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        public string DeleteExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            return Call("deleting a guest data extension", new[] { guestRef, name }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = Interop.xmcdp_client_guest_extension_delete(c, s[0], s[1], ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        /// <summary>Removes <paramref name="fields"/> from data extension <paramref name="name"/> (none: empties it, keeps it).</summary>
        public string DeleteExtensionFields(string guestRef, string name, string[] fields, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            var f = fields ?? new string[0];
            var ms = NativeCalls.BudgetMs(budget);
            return _client.GuestCall("deleting guest data extension fields", id =>
            {
                string json;
                var st = NativeCalls.GuestDeleteFields(id, guestRef, name, f, ms, out json);
                return Tuple.Create(st, json);
            });
        }

        private delegate Tuple<xmcdp_status_t, ulong> RawCall(ulong client, xmcdp_str_t[] strs, uint budgetMs, IntPtr buf, ulong cap);

        private delegate xmcdp_status_t DataCall(ulong client, xmcdp_str_t guestRef, xmcdp_str_t name, xmcdp_str_t data, uint budgetMs, IntPtr buf, ulong cap, out ulong len);

        private string WithData(string operation, string guestRef, string name, CdpExtensionData data, TimeSpan budget, DataCall call)
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            if (data == null) throw new ArgumentNullException(nameof(data));
            var json = data.ToJsonOrNull() ?? "{}";
            return Call(operation, new[] { guestRef, name, json }, budget,
                (c, s, ms, b, cap) => { ulong l; var st = call(c, s[0], s[1], s[2], ms, b, cap, out l); return Tuple.Create(st, l); });
        }

        private string Call(string operation, string[] args, TimeSpan budget, RawCall call)
        {
            var ms = NativeCalls.BudgetMs(budget);
            return _client.GuestCall(operation, id =>
            {
                string json;
                var st = NativeCalls.Guest(args, (xmcdp_str_t[] s, IntPtr b, ulong cap, out ulong len) =>
                {
                    var r = call(id, s, ms, b, cap);
                    len = r.Item2;
                    return r.Item1;
                }, out json);
                return Tuple.Create(st, json);
            });
        }

        private static void Require(string value, string name)
        {
            if (value == null) throw new ArgumentNullException(name);
        }
    }
}
