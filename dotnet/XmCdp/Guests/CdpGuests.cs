using System;
using System.Collections.Generic;
using XmCdp.Json;
using XmCdp.Events;
using XmCdp.Native;

namespace XmCdp.Guests
{
    /// <summary>
    /// The authenticated Guest REST API (v2.1) of one client: guest lookup, the guest lifecycle (registration with data
    /// extensions, partial update, replace, delete) and data extensions. Every call blocks
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
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestFind(lease.Id, email, null, null, NativeCalls.BudgetMs(budget), out json), json, "finding guests");
        }

        /// <summary>Guests with this identifier (e.g. provider "email", or your own provider name).</summary>
        public string FindByIdentifier(string provider, string id, TimeSpan budget = default(TimeSpan))
        {
            Require(provider, nameof(provider));
            Require(id, nameof(id));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestFind(lease.Id, null, provider, id, NativeCalls.BudgetMs(budget), out json), json, "finding guests");
        }

        /// <summary>One guest; <paramref name="expand"/> includes its data extensions.</summary>
        public string Get(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestGet(lease.Id, guestRef, expand, NativeCalls.BudgetMs(budget), out json), json, "reading a guest");
        }

        /// <summary>
        /// Registers a guest: creates it from <paramref name="guest"/> (GuestType required; e-mail, names, identifiers...)
        /// and then the data extensions filled through <see cref="CdpGuestProfile.Extension"/>, all within one budget.
        /// Returns the created guest (its <c>extensions</c> are the created extensions; <see cref="RefOf"/> reads its ref).
        /// No de-duplication: search first (<see cref="FindByIdentifier"/>). When an extension fails after the guest was
        /// created, the exception's message names the created guest ref.
        /// </summary>
        public string Create(CdpGuestProfile guest, TimeSpan budget = default(TimeSpan))
        {
            if (guest == null) throw new ArgumentNullException(nameof(guest));
            var body = guest.ToJson();
            var extensions = guest.ExtensionsJsonOrNull();
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestCreate(lease.Id, body, extensions, NativeCalls.BudgetMs(budget), out json), json, "creating a guest");
        }

        /// <summary>Partial update: only the attributes set (or cleared) in <paramref name="changes"/> change. Returns the guest.</summary>
        public string Update(string guestRef, CdpGuestProfile changes, TimeSpan budget = default(TimeSpan))
        {
            return WriteGuest(guestRef, changes, false, "updating a guest", budget);
        }

        /// <summary>Replaces every attribute of the guest with <paramref name="guest"/> (GuestType required). Returns the guest.</summary>
        public string Replace(string guestRef, CdpGuestProfile guest, TimeSpan budget = default(TimeSpan))
        {
            return WriteGuest(guestRef, guest, true, "replacing a guest", budget);
        }

        /// <summary>
        /// Deletes the guest (the right to be forgotten): irreversible, CDP also deletes its orders, sessions, events and
        /// data extensions. <see cref="CdpStatus.NotFound"/> when no such guest exists.
        /// </summary>
        public void Delete(string guestRef, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            string json;
            using (var lease = _client.Acquire())
                Checked(NativeCalls.GuestDelete(lease.Id, guestRef, NativeCalls.BudgetMs(budget), out json), json, "deleting a guest");
        }

        /// <summary>The guest ref of a guest answered by <see cref="Create"/>, <see cref="Get"/> or an update; null when none.</summary>
        public static string RefOf(string guestJson)
        {
            if (string.IsNullOrEmpty(guestJson)) return null;
            object r;
            return FlatJson.ReadObject(guestJson).TryGetValue("ref", out r) ? r as string : null;
        }

        /// <summary>The guest refs of a search collection (<see cref="FindByEmail"/>, <see cref="FindByIdentifier"/>), in order.</summary>
        public static IList<string> RefsOf(string collectionJson)
        {
            var refs = new List<string>();
            if (string.IsNullOrEmpty(collectionJson)) return refs;
            const string Marker = "/v2.1/guests/";
            int i = 0;
            while ((i = collectionJson.IndexOf(Marker, i, StringComparison.Ordinal)) >= 0)
            {
                int start = i + Marker.Length, end = start;
                while (end < collectionJson.Length && IsRefChar(collectionJson[end])) end++;
                // Only an item's own href ends right after the ref (an extension's href goes on with "/extensions").
                if (end > start && end < collectionJson.Length && collectionJson[end] == '"')
                {
                    var r = collectionJson.Substring(start, end - start);
                    if (!refs.Contains(r)) refs.Add(r);
                }
                i = end;
            }
            return refs;
        }

        private static bool IsRefChar(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';

        /// <summary>
        /// The key/values of data extension <paramref name="name"/> (string, long, double or bool values), or null when
        /// the guest has no such extension.
        /// </summary>
        public IDictionary<string, object> ExtensionValues(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            string json;
            try
            {
                json = GetExtension(guestRef, name, budget);
            }
            catch (XmCdpException e) when (e.Status == CdpStatus.NotFound)
            {
                return null;
            }
            var values = FlatJson.ReadObject(json);
            foreach (var field in ResourceFields) values.Remove(field);
            return values;
        }

        /// <summary>Members CDP adds to an extension resource: never the caller's keys.</summary>
        private static readonly string[] ResourceFields = { "href", "ref", "name", "key", "createdAt", "modifiedAt", "guest" };

        private string WriteGuest(string guestRef, CdpGuestProfile guest, bool replace, string operation, TimeSpan budget)
        {
            Require(guestRef, nameof(guestRef));
            if (guest == null) throw new ArgumentNullException(nameof(guest));
            if (guest.HasExtensions)
                throw new ArgumentException("Data extensions of an existing guest are written with PatchExtension / CreateExtension.", nameof(guest));
            var body = guest.ToJson();
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestUpdate(lease.Id, guestRef, body, replace, NativeCalls.BudgetMs(budget), out json), json, operation);
        }

        /// <summary>Creates data extension <paramref name="name"/> ("ext", "ext1" … "ext5") from flat key/values.</summary>
        public string CreateExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Create, "creating a guest data extension", guestRef, name, data, budget);
        }

        /// <summary>Replaces every key/value of data extension <paramref name="name"/>.</summary>
        public string PutExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Put, "replacing a guest data extension", guestRef, name, data, budget);
        }

        /// <summary>Updates only the given keys of data extension <paramref name="name"/>.</summary>
        public string PatchExtension(string guestRef, string name, CdpExtensionData data, TimeSpan budget = default(TimeSpan))
        {
            return Write(NativeCalls.ExtensionWrite.Patch, "updating a guest data extension", guestRef, name, data, budget);
        }

        public string GetExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionGet(lease.Id, guestRef, name, NativeCalls.BudgetMs(budget), out json), json,
                    "reading a guest data extension");
        }

        /// <summary>The guest's data extensions; <paramref name="expand"/> includes their key/values.</summary>
        public string ListExtensions(string guestRef, bool expand = false, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionList(lease.Id, guestRef, expand, NativeCalls.BudgetMs(budget), out json), json,
                    "listing guest data extensions");
        }

        public string DeleteExtension(string guestRef, string name, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionDelete(lease.Id, guestRef, name, NativeCalls.BudgetMs(budget), out json), json,
                    "deleting a guest data extension");
        }

        /// <summary>Removes <paramref name="fields"/> from data extension <paramref name="name"/> (none: empties it, keeps it).</summary>
        public string DeleteExtensionFields(string guestRef, string name, string[] fields, TimeSpan budget = default(TimeSpan))
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionDeleteFields(lease.Id, guestRef, name, fields ?? new string[0], NativeCalls.BudgetMs(budget), out json),
                    json, "deleting guest data extension fields");
        }

        private string Write(NativeCalls.ExtensionWrite write, string operation, string guestRef, string name, CdpExtensionData data, TimeSpan budget)
        {
            Require(guestRef, nameof(guestRef));
            Require(name, nameof(name));
            if (data == null) throw new ArgumentNullException(nameof(data));
            var dataJson = data.ToJsonOrNull() ?? "{}";
            string json;
            using (var lease = _client.Acquire())
                return Checked(NativeCalls.GuestExtensionWrite(lease.Id, write, guestRef, name, dataJson, NativeCalls.BudgetMs(budget), out json), json, operation);
        }

        /// <summary>The answer, or <see cref="XmCdpException"/> carrying the status (read while the lease is held: same thread's last error).</summary>
        private static string Checked(int status, string json, string operation)
        {
            NativeCalls.Check(status, operation);
            return json;
        }

        private static void Require(string value, string name)
        {
            if (value == null) throw new ArgumentNullException(name);
        }
    }
}
